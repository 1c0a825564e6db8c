// A client's connection to brokerkey-agent over its unix socket (docs/AGENT.md): the module in
// client mode, the drop-ins and the keytool's read commands all reach the broker through it.
// One request is in flight at a time (the ssh-agent protocol has no request ids); a caller that
// signs from several threads holds one connection per thread.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/agent_protocol.h"
#include "core/bytes.h"
#include "core/error.h"
#include "core/unique_fd.h"

namespace brokerkey {

namespace fs = std::filesystem;

// Every way the agent cannot be used: nothing listens at the socket, the connection broke or
// timed out, or the answer broke the protocol. Error(CKR_DEVICE_REMOVED), so the module passes
// it on as PKCS#11 section 5.1 lists it for a token that went away mid-session.
Error agent_unavailable(const std::string& what);

class AgentConnection {
 public:
  // Connects to `socket` (a path of at most 107 bytes). `timeout` bounds the connect and each
  // request/response exchange. Throws agent_unavailable.
  explicit AgentConnection(const fs::path& socket,
                           std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // One request (a message body, framed here), its response body (at most
  // agent::kMaxFrameLength). Throws agent_unavailable; the connection is closed after that.
  Bytes call(ByteView request);

  // SSH_AGENTC_REQUEST_IDENTITIES; nullopt when the agent answers SSH_AGENT_FAILURE.
  std::optional<std::vector<agent::Identity>> identities();
  // A pure Ed25519 signature (64 bytes) by the key `key_blob` (SSH wire encoding); nullopt when
  // the agent refuses.
  std::optional<Bytes> sign(ByteView key_blob, ByteView data);
  // An extension whose request and response carry one string (view@, health@, login@brokerkey.org);
  // nullopt when the agent refuses or does not offer it.
  std::optional<std::string> text_extension(std::string_view name, std::optional<std::string_view> argument = {});

  const fs::path& socket() const { return socket_; }

 private:
  fs::path socket_;
  std::chrono::milliseconds timeout_;
  UniqueFd fd_;
};

}  // namespace brokerkey
