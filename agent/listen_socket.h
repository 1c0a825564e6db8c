// The agent's listening socket: handed over by systemd (socket activation), or created at a
// path, in a directory only the broker's account can change, with mode 0660 so that only that
// account and the consumers' group can connect.
#pragma once

#include <filesystem>
#include <string>

#include "core/unique_fd.h"

namespace brokerkey::agent {

// The socket systemd passed (sd_listen_fds), checked to be a listening unix stream socket;
// an empty UniqueFd when the agent was not socket-activated. Throws config_bad when systemd
// passed anything other than exactly one such socket.
UniqueFd activated_socket();

// Creates `path` and listens on it. The directory is created (mode 0750) if missing; it and
// every directory above it must pass the trusted-directory rule (core/files.h: owned by this
// user or root, writable by nobody else, a sticky directory only for an entry of ours), and
// the socket is made, probed and replaced through the checked directory's descriptor. A stale socket left by a dead
// agent is replaced; a live one (another agent answers) or any other file there is refused.
// `group`, when not empty, owns the socket (the consumers' group). Throws config_bad or
// file_error naming the problem.
UniqueFd create_listen_socket(const std::filesystem::path& path, const std::string& group);

}  // namespace brokerkey::agent
