// The agent git's drop-ins sign through. Two ways name it, and one function decides:
// - a client configuration (brokerkey client-config) names the agent's socket for every
//   program of the account;
// - `brokerkey git-config --agent SOCKET` records the socket in git's own configuration
//   (brokerkey.agent), because git starts gpg.ssh.program with the user's environment and no
//   way to add to it.
// A client configuration wins, and brokerkey.agent is read (a `git config` process) only when
// there is none: the configuration is the account's own statement of its agent, and reading it
// first keeps that process off every signature of a client-mode consumer (docs/CONSUMERS.md
// section 12). With neither, the drop-ins sign through the PKCS#11 module (embedded mode).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "core/agent_connection.h"
#include "core/backend.h"
#include "core/broker_view.h"
#include "core/uri.h"

namespace brokerkey {

namespace fs = std::filesystem;

inline constexpr const char* kGitAgentKey = "brokerkey.agent";

// `git config --get brokerkey.agent` as git sees it from the current directory (and GIT_DIR);
// nullopt when unset, when git is not installed, or when the value is not an absolute path.
std::optional<std::string> git_configured_agent();

// The socket of the located configuration when it is a client configuration; nullopt when
// there is none or it is embedded. Throws when a configuration exists but cannot be read.
std::optional<fs::path> client_config_agent();

// The agent to sign through: the client configuration's socket, else git's brokerkey.agent;
// nullopt when there is neither (no configuration or an embedded one, and no brokerkey.agent).
// Throws when a configuration exists but cannot be read.
std::optional<fs::path> configured_agent();

// A text extension's answer (view@, health@brokerkey.org), or one line saying why there is
// none. A lost connection is reported with its likely cause (core/agent_connection.h
// with_likely_cause): an account the agent maps to no consumer, or the agent or the ssh
// forwarding that carries its socket gone.
std::string ask_agent(AgentConnection& agent, std::string_view extension);

// The agent's view@brokerkey.org, parsed as hostile input; throws one line when it gives none.
BrokerView ask_view(AgentConnection& agent);

// The keys the agent lists (REQUEST_IDENTITIES). Throws agent_unavailable when it refuses to
// list them, and a lost connection with its likely cause, as ask_agent.
std::vector<agent::Identity> ask_identities(AgentConnection& agent);

// The Ed25519 key of an SSH wire key blob (string "ssh-ed25519", string 32 bytes; RFC 8709),
// as an agent lists its keys; nullopt for any other blob.
std::optional<PublicKey> ed25519_from_ssh_blob(ByteView blob);

// The key of an OpenSSH Ed25519 public key line ("ssh-ed25519 BASE64 [comment]", no line
// break); nullopt for anything else.
std::optional<PublicKey> ed25519_from_public_key_line(std::string_view line);

// The public key of a file holding one OpenSSH Ed25519 public key line ("ssh-ed25519 BASE64
// [comment]"): what git writes for the key gpg.ssh.defaultKeyCommand printed. nullopt for any
// other file (a private key, another key type, a FIFO).
std::optional<PublicKey> ed25519_public_key_file(const std::string& path);

// The text of a small key file (the first 4096 bytes) without its trailing line breaks: what
// git writes for user.signingkey or a key command's output. nullopt for anything but a regular
// file (never a FIFO or a device: no blocking read) or one that cannot be read.
std::optional<std::string> key_file_text(const std::string& path);

// A pure Ed25519 signature over `data` by the agent's key `key` (SIGN_REQUEST), checked with
// that key before it is used. Throws action_prohibited when the agent refuses (the reason is in
// its log and the signing log: a purpose not granted, the rate, a key no longer current), and
// agent_unavailable when its answer is not a valid signature or the connection is lost (with
// its likely cause, as ask_agent).
Signature agent_signature(AgentConnection& agent, const PublicKey& key, ByteView data);

// The agent's current key, which `key_text` must name: a 64-hex-digit fingerprint must be its
// fingerprint; a PKCS#11 URI's token, object, id and type (those it gives) must match it as the
// module's slot 0 would (type private, or also public when `signing` is false). A URI's PIN
// first logs its consumer in on the connection (login_with_uri_pin). Throws invalid_input
// naming the mismatch, not_found when the agent shows no current key. `view` is the agent's
// view the key was found in (one view@ request).
struct AgentKey {
  BrokerView view;
  KeyRecord key;
};
AgentKey agent_key_named(AgentConnection& agent, std::string_view key_text, bool signing);

// Binds the consumer a URI's PIN names (pin-value, or pin-source) to the connection
// (login@brokerkey.org); without a PIN the agent identifies the account by itself and this
// does nothing. Throws when the agent refuses the PIN, and a lost connection with its likely
// cause, as ask_agent.
void login_with_uri_pin(AgentConnection& agent, const KeyUri& uri);

}  // namespace brokerkey
