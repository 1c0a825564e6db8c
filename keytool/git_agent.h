// The agent a git repository signs through. `brokerkey git-config --agent SOCKET` records the
// socket in git's own configuration (brokerkey.agent), because git starts gpg.ssh.program with
// the user's environment and no way to add to it; brokerkey-ssh-keygen reads it back and hands
// it to the system ssh-keygen as SSH_AUTH_SOCK.
#pragma once

#include <optional>
#include <string>

namespace brokerkey {

inline constexpr const char* kGitAgentKey = "brokerkey.agent";

// `git config --get brokerkey.agent` as git sees it from the current directory (and GIT_DIR);
// nullopt when unset, when git is not installed, or when the value is not an absolute path.
std::optional<std::string> git_configured_agent();

}  // namespace brokerkey
