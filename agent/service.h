// What brokerkey-agent answers: one request from one identified peer in, one response out.
// Every rule of the agent's boundary is applied here, in this order, for each request: the
// peer must be a consumer the ledger names (by the kernel's credentials), the key must be the
// ledger's current key and proven by the backend, the data's purpose must be granted to that
// consumer, its rate must allow one more, and the signature leaves only after its record in
// the signing log is durable. Sockets and threads are server.h's business, not this file's.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "classify.h"
#include "core/backend.h"
#include "core/config.h"
#include "ledger_follower.h"
#include "peer.h"
#include "policy.h"
#include "core/agent_protocol.h"
#include "core/broker_view.h"
#include "signing_log_writer.h"

namespace brokerkey::agent {

// What one connection has established: the peer the kernel named when it connected, and the
// consumer a login@brokerkey.org request bound to it (with how), if one did.
struct Connection {
  Peer peer;
  std::optional<std::string> login;  // the consumer logged in on this connection
  bool login_with_pin = false;
};

class AgentService {
 public:
  // `log` may be null when the configuration names no signing log (benchmarks only).
  AgentService(const Config& config, Backend& backend, SigningLogWriter* log);

  // Which consumer `peer` is now, per the ledger; the refusal reason otherwise.
  Identification identify_peer(const Peer& peer);

  // The response to one request (a message body). Never throws: every failure is a plain
  // SSH_AGENT_FAILURE, and its reason goes to the agent's log.
  Bytes handle(const Request& request, Connection& connection);
  // For a request on a connection that has not logged in (tests, one-shot callers).
  Bytes handle(const Request& request, const Peer& peer) {
    Connection connection{peer, std::nullopt, false};
    return handle(request, connection);
  }

 private:
  Bytes identities(const Peer& peer);
  Bytes sign(const SignRequest& request, const Connection& connection);
  Bytes extension(const ExtensionRequest& request, Connection& connection);
  // login@brokerkey.org: binds the peer's consumer to the connection, checking its PIN if given.
  Bytes login(const ExtensionRequest& request, Connection& connection, const std::string& consumer);
  // The view@brokerkey.org answer: the view as JSON, or "" when `known_tag` names it as it is.
  std::string view_answer(const std::shared_ptr<const LedgerState>& state,
                          std::string_view known_tag);
  std::string health_json(const Peer& peer);
  // Records a request that did not produce a signature; never throws.
  void record_refusal(boost::json::object entry, const std::string& reason);

  const Config& config_;
  Backend& backend_;
  SigningLogWriter* log_;
  LedgerFollower ledger_;
  RateLimiter rates_;

  // The last view's text, kept while the ledger state and the slots are the same (clients ask
  // for it at nearly every PKCS#11 call).
  struct ViewCache {
    std::shared_ptr<const LedgerState> state;
    std::optional<Fingerprint> current;
    std::optional<Fingerprint> overlap;
    BrokerViewText text;
  };
  std::mutex view_mutex_;  // guards view_cache_
  std::optional<ViewCache> view_cache_;
};

}  // namespace brokerkey::agent
