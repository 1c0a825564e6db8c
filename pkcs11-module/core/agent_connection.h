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

// Of those ways, a lost connection: the other end closed or reset the connection under a
// request (end of file, EPIPE or ECONNRESET: which one is timing, so all three read "the
// connection was closed by the other end (SOCKET)"). An agent_unavailable error of its own type,
// so that with_likely_cause() takes only this and never a timeout or an answer that breaks the
// protocol, and a pool can tell a connection the agent closed while it sat idle.
class AgentConnectionLost : public Error {
 public:
  explicit AgentConnectionLost(const fs::path& socket, Loc where = Loc::current());
  const fs::path& socket() const noexcept { return socket_; }

 private:
  fs::path socket_;
};

// What an account the agent maps to no consumer meets: the agent closes its connections as it
// accepts them (docs/AGENT.md). Said, in parentheses, wherever that is the likely cause.
inline constexpr const char* kUnmappedAccountHint =
    "(is this account mapped to a consumer? the agent closes the connections of accounts that are not)";

// `lost` with its likely cause, for the line a user reads: the module's log, the keytool's and
// the drop-ins' error. From this side a connection closed under a request looks the same
// whether the agent closed it because this account maps to no consumer, the agent went away,
// or the ssh forwarding that carries its socket ended (docs/CONSUMERS.md section 10). A second
// connection to lost.socket() tells them apart: when the socket takes none, its far end is
// gone ("..., and SOCKET takes no connection now (the agent, or the ssh forwarding that carries
// its socket, went away)"); when it takes one, the agent is there and closed this account's
// connection (kUnmappedAccountHint; through a forwarding, an agent down on the far host looks
// the same, as ssh accepts for it). The probe sends nothing and is closed at once; its connect
// waits at most 5 s (an agent that is stopped with its backlog full takes no connection either).
// Run it only once a request has failed for good (it costs a connection), which the parameter's
// type keeps to lost connections. The result is CKR_DEVICE_REMOVED, as `lost` is; throws
// nothing but std::bad_alloc.
Error with_likely_cause(const AgentConnectionLost& lost);

class AgentConnection {
 public:
  // Connects to `socket` (a path of at most 107 bytes). `timeout` bounds the connect (which
  // waits while the listener's backlog is full: an agent stopped or swamped) and each
  // request/response exchange. Throws agent_unavailable.
  explicit AgentConnection(const fs::path& socket,
                           std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // One request (a message body, framed here), its response body (at most
  // agent::kMaxFrameLength). Throws AgentConnectionLost when the other end closed the
  // connection, agent_unavailable for any other failure; the connection is closed after either.
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
