// Client mode (key_source.h): the module over brokerkey-agent. Every view is the agent's
// view@brokerkey.org answer (an "unchanged" answer while it is the view this source last
// built), a login is login@brokerkey.org on the connections that sign for that slot, and a
// signature is an ssh-agent SIGN_REQUEST; the agent checks the consumer's policy and writes
// the signing log. Nothing else is read: not the backend PIN, the token store, the ledger or
// the signing log, even when the configuration names them.
//
// The ssh-agent protocol has one request in flight per connection, so connections are pooled:
// a request takes an idle one (or opens one, replaying the slot's login on it) and gives it
// back when the answer is in. Views go on any idle connection, logged in or not, and C_Login
// logs in the connection the views used, so a process that signs once opens one connection.
// A connection that broke is dropped; the next request opens a new one, so an agent that
// restarted is used again without anything else. An agent that cannot be used is logged once
// per outage, a lost connection with its likely cause (core/agent_connection.h). Sockets are
// CLOEXEC; after fork() the child's C_Initialize builds a new source and never sees these
// connections.
#include <mutex>
#include <type_traits>
#include <vector>

#include "core/agent_connection.h"
#include "core/broker_view.h"
#include "core/error.h"
#include "core/files.h"
#include "core/text.h"
#include "key_source.h"
#include "log.h"

namespace brokerkey {

namespace {

// Idle connections kept per pool; more concurrent signers than this each open their own and
// the extra ones are closed when they finish.
constexpr std::size_t kMaxIdle = 8;
// Sign requests carry the whole message: the agent reads frames of at most
// agent::kMaxFrameLength, and the request's own fields need a few bytes of it.
constexpr std::size_t kMaxAgentMessage = agent::kMaxFrameLength - 1024;
// Connections one request is tried on (AgentSource::leased): a view may meet a stale idle
// connection in each of the three pools before a new one.
constexpr int kMaxTries = 4;

// Connections to the agent that are all logged in the same way (or not at all).
struct Pool {
  std::mutex mutex;  // guards everything below; never held while the agent is asked
  // How connections of this pool log in: nullopt, not logged in; a nullopt PIN, the protected
  // authentication path. Kept only while logged in, wiped at logout and C_Finalize.
  std::optional<std::optional<Secret>> login;
  // Bumped at every login and logout: a connection taken before is not pooled again.
  std::uint64_t generation = 0;
  std::vector<std::unique_ptr<AgentConnection>> idle;
};

struct Lease {
  Pool* pool = nullptr;  // where it came from, and goes back to
  std::unique_ptr<AgentConnection> connection;  // null: the pool had no idle one (take_idle)
  std::uint64_t generation = 0;
  bool reused = false;  // came from the idle list (and may be stale)
};

class AgentSource final : public KeySource {
 public:
  explicit AgentSource(const Config& config) : socket_(config.agent.socket) {}

  // The agent's view, asked for at every call. The request names the tag of the last view
  // this source built; while the agent's view is still that one, it answers "unchanged" (an
  // empty string) and the same snapshot serves again, unparsed: a rotation, a retirement or
  // the end of an overlap window changes the tag, so it is still seen at the next call.
  std::shared_ptr<const TokenView> view() override {
    std::shared_ptr<const TokenView> known;
    std::string known_tag;
    {
      std::lock_guard lock(view_mutex_);
      known = last_view_;
      known_tag = last_tag_;
    }
    auto fail = [&](const Error& e) {
      log_once(e);
      auto view = std::make_shared<TokenView>();
      view->built_at = now();
      view->valid_until = view->built_at;
      view->unavailable = e;
      return view;
    };
    std::optional<std::string> text;
    try {
      std::optional<std::string_view> argument;
      if (!known_tag.empty()) argument = known_tag;
      text = call_any(
          [&](AgentConnection& c) { return c.text_extension(agent::kViewExtension, argument); });
    } catch (const Error& e) {
      return fail(explained(e));
    }
    if (!text) {
      return fail(agent_unavailable("the agent at " + socket_.string() +
                                    " serves no consumer this account is mapped to"));
    }
    {
      std::lock_guard lock(view_mutex_);
      last_failure_.clear();
    }
    if (text->empty() && known) return known;
    BrokerView broker;
    try {
      broker = parse_broker_view(*text);
    } catch (const Error& e) {
      return fail(e);
    }
    auto view = std::make_shared<TokenView>();
    view->built_at = now();
    view->valid_until = view->built_at;  // never reused by time: the next call asks again
    for (SlotRole role : {SlotRole::current, SlotRole::overlap}) {
      const KeyRecord* key = role == SlotRole::current ? broker.current_key() : broker.overlap_key();
      if (!key) continue;
      SlotView& slot = view->slots[static_cast<std::size_t>(role)];
      slot.key = *key;
      slot.objects = build_key_objects(*key, role, handles_);
    }
    std::lock_guard lock(view_mutex_);
    last_view_ = view;
    last_tag_ = broker.tag;
    return view;
  }

  bool protected_authentication_path() const override { return true; }

  std::string login(SlotRole slot, std::optional<ByteView> pin) override {
    std::optional<Secret> secret;
    if (pin && !pin->empty()) {
      secret.emplace(std::string(reinterpret_cast<const char*>(pin->data()), pin->size()));
    }
    // The connection that answered the views so far logs in, rather than a new one: a cold
    // process then opens one connection in all. It is kept, for the slot's pool.
    std::string consumer;
    Lease logged_in;
    try {
      logged_in = leased([&] { return take(plain_); }, [&](Lease& lease) {
        try {
          consumer = log_in(*lease.connection, secret, CKR_PIN_INCORRECT);
        } catch (const Error& e) {
          if (e.rv() == CKR_PIN_INCORRECT) give_back(std::move(lease));  // refused, and still usable for views
          throw;
        }
        return std::move(lease);
      });
    } catch (const Error& e) {
      throw reported(e);
    }
    Pool& pool = slots_[static_cast<std::size_t>(slot)];
    std::lock_guard lock(pool.mutex);
    ++pool.generation;
    pool.idle.clear();
    pool.login.emplace(std::move(secret));
    pool.idle.push_back(std::move(logged_in.connection));
    return consumer;
  }

  void logout(SlotRole slot) noexcept override {
    Pool& pool = slots_[static_cast<std::size_t>(slot)];
    std::lock_guard lock(pool.mutex);
    ++pool.generation;
    pool.idle.clear();
    pool.login.reset();
  }

  Signature sign(SlotRole slot, const std::string&, const KeyRecord& key, ByteView data) override {
    if (data.size() > kMaxAgentMessage) {
      throw Error(CKR_DATA_LEN_RANGE, "brokerkey-agent signs messages of at most " +
                                          std::to_string(kMaxAgentMessage) + " bytes");
    }
    Bytes blob = ssh_wire_blob(key.public_key);
    std::optional<Bytes> signature;
    try {
      signature = call(slots_[static_cast<std::size_t>(slot)], [&](AgentConnection& c) { return c.sign(blob, data); });
    } catch (const Error& e) {
      throw reported(e);
    }
    if (!signature) {
      // The agent says no more than no; its log and the signing log say why. Whether the key
      // is still shown tells a revoked or retired key from a refused request.
      auto now_view = view();
      if (now_view->unavailable) throw *now_view->unavailable;
      if (!now_view->shows(key.fingerprint)) {
        throw key_withdrawn_since_sign_init();
      }
      throw Error(CKR_FUNCTION_REJECTED,
                  "brokerkey-agent refused the signature: a purpose this account is not granted (pkcs11-tool and "
                  "p11tool sign raw data: 'brokerkey consumer set NAME --allow ...,raw'), its rate, or a key no "
                  "longer current; the agent's log and the signing log say which");
    }
    Signature out{};
    std::copy(signature->begin(), signature->end(), out.begin());
    return out;
  }

 private:
  // login@brokerkey.org on `connection`; the consumer's name. Throws Error(`refused`) when the
  // agent refuses it.
  static std::string log_in(AgentConnection& connection, const std::optional<Secret>& pin, CK_RV refused) {
    std::optional<std::string_view> argument;
    if (pin) argument = std::string_view(pin->view());
    std::optional<std::string> consumer = connection.text_extension(agent::kLoginExtension, argument);
    if (!consumer) {
      throw Error(refused, pin ? "brokerkey-agent refused the consumer PIN"
                               : "brokerkey-agent maps this account to no consumer (log in with a consumer PIN)");
    }
    if (auto fault = text_fault(*consumer, 256)) {
      throw Error(CKR_DEVICE_ERROR, "brokerkey-agent's login answer: the consumer name " + *fault);
    }
    return *consumer;
  }

  // A connection of `pool`: an idle one, else a new one, logged in as the pool is. (A slot's
  // pool has no idle connection while logged out: logout drops them, give_back refuses them.)
  Lease take(Pool& pool) {
    if (Lease idle = take_idle(pool); idle.connection) return idle;
    std::optional<Secret> pin;
    bool logged_in = false;
    Lease lease;
    lease.pool = &pool;
    {
      std::lock_guard lock(pool.mutex);
      lease.generation = pool.generation;
      if (&pool != &plain_ && !pool.login) throw Error(CKR_USER_NOT_LOGGED_IN, "logged out");
      if (pool.login) {
        logged_in = true;
        if (*pool.login) pin.emplace(std::string((*pool.login)->view()));
      }
    }
    lease.connection = std::make_unique<AgentConnection>(socket_);
    // A new connection logs in as the slot did; the agent may no longer accept it (a PIN
    // changed, a consumer removed): the request is then refused.
    if (logged_in) log_in(*lease.connection, pin, CKR_FUNCTION_REJECTED);
    return lease;
  }

  // An idle connection of `pool`, if it has one (else the lease holds none).
  static Lease take_idle(Pool& pool) {
    Lease lease;
    lease.pool = &pool;
    std::lock_guard lock(pool.mutex);
    if (pool.idle.empty()) return lease;
    lease.generation = pool.generation;
    lease.connection = std::move(pool.idle.back());
    pool.idle.pop_back();
    lease.reused = true;
    return lease;
  }

  static void give_back(Lease lease) {
    Pool& pool = *lease.pool;
    std::lock_guard lock(pool.mutex);
    if (lease.generation == pool.generation && pool.idle.size() < kMaxIdle) {
      pool.idle.push_back(std::move(lease.connection));
    }
  }

  // The one place a request meets a stale connection. Runs `use` on the lease `lease()` makes;
  // `use` asks the agent and gives the connection back or keeps it. An idle connection the agent
  // closed since (it restarted, or ended the connection after its idle timeout) fails at once,
  // as a lost connection: every idle one of its pool is then as stale and is dropped, and `use`
  // runs again on the lease `lease()` makes next (another pool's idle connection, or a new one).
  // Any other failure, or one on a new connection, is the request's (see explained()).
  template <typename MakeLease, typename Use>
  std::invoke_result_t<Use, Lease&> leased(MakeLease lease, Use use) {
    for (int tries = 1;; ++tries) {
      Lease current = lease();
      try {
        return use(current);
      } catch (const AgentConnectionLost&) {
        if (!current.reused || tries == kMaxTries) throw;
      }
      std::lock_guard lock(current.pool->mutex);
      current.pool->idle.clear();
    }
  }

  // Runs `request` on a connection of `pool`, then gives the connection back.
  template <typename Request>
  std::invoke_result_t<Request, AgentConnection&> call(Pool& pool, Request request) {
    return leased([&] { return take(pool); }, [&](Lease& lease) { return answered(lease, request); });
  }

  // Runs a request that any connection may carry (a view): on an idle one of whichever pool
  // has one, logged in or not, else on a new connection that is not logged in.
  template <typename Request>
  std::invoke_result_t<Request, AgentConnection&> call_any(Request request) {
    auto any = [&] {
      for (Pool* pool : {&slots_[0], &slots_[1]}) {
        if (Lease lease = take_idle(*pool); lease.connection) return lease;
      }
      return take(plain_);
    };
    return leased(any, [&](Lease& lease) { return answered(lease, request); });
  }

  // `request`'s answer on the lease's connection, which then goes back to its pool.
  template <typename Request>
  static std::invoke_result_t<Request, AgentConnection&> answered(Lease& lease, Request& request) {
    auto result = request(*lease.connection);
    give_back(std::move(lease));
    return result;
  }

  // What a request that failed for good reports: a lost connection with its likely cause
  // (with_likely_cause costs a second connection, so it is asked only here, after leased()).
  static Error explained(const Error& e) {
    if (const auto* lost = dynamic_cast<const AgentConnectionLost*>(&e)) return with_likely_cause(*lost);
    return e;
  }

  // What a login or a signature that failed with `e` throws: explained, and an agent that cannot
  // be used (CKR_DEVICE_REMOVED; other codes are the caller's to show) logged as a view's is.
  Error reported(const Error& e) {
    Error out = explained(e);
    if (out.rv() == CKR_DEVICE_REMOVED) log_once(out);
    return out;
  }

  // Logs `e` once per outage, not at every call that needs the agent (pkcs11-tool makes
  // several): again only when a failure says something else, or after a view succeeded.
  void log_once(const Error& e) {
    std::lock_guard lock(view_mutex_);
    if (last_failure_ != e.what()) log_error(e.what());
    last_failure_ = e.what();
  }

  fs::path socket_;
  HandleRegistry handles_;
  Pool plain_;             // not logged in: views before a login
  Pool slots_[2];          // per slot, logged in as that slot is: its signatures, and views
  std::mutex view_mutex_;  // guards the three below
  std::shared_ptr<const TokenView> last_view_;  // the last view built from a full answer
  std::string last_tag_;                        // its tag ("" if the agent gave none)
  std::string last_failure_;                    // what log_once logged last, until a view succeeds
};

}  // namespace

std::unique_ptr<KeySource> make_agent_source(const Config& config) {
  return std::make_unique<AgentSource>(config);
}

}  // namespace brokerkey
