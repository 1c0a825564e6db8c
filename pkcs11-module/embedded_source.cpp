// Embedded mode (key_source.h): the backend module in this process, the ledger read here,
// consumer PINs checked against the configuration, and the signing log written here.
#include <mutex>

#include "core/chained_log.h"
#include "core/consumer_pin.h"
#include "core/error.h"
#include "core/pkcs11_backend.h"
#include "key_source.h"
#include "log.h"

namespace brokerkey {

namespace {

class EmbeddedSource final : public KeySource {
 public:
  explicit EmbeddedSource(const Config& config)
      : config_(config), backend_(std::make_unique<Pkcs11Backend>(config.backend)) {
    if (!config_.signing_log.empty()) signing_log_.emplace(config_.signing_log);
  }

  // The current snapshot; rebuilt first if the ledger changed or a time boundary passed.
  std::shared_ptr<const TokenView> view() override {
    FileStamp stamp = stamp_of(config_.ledger);
    TimePoint at = now();
    auto fresh = [&](const std::shared_ptr<const TokenView>& v) {
      return v && v->stamp == stamp && at >= v->built_at && at < v->valid_until;
    };
    {
      std::lock_guard lock(view_mutex_);
      if (fresh(view_)) return view_;
    }
    std::lock_guard rebuild(rebuild_mutex_);
    {
      std::lock_guard lock(view_mutex_);
      if (fresh(view_)) return view_;
    }
    auto rebuilt = build_token_view(config_, *backend_, handles_, at);
    std::lock_guard lock(view_mutex_);
    view_ = rebuilt;
    return rebuilt;
  }

  bool protected_authentication_path() const override { return false; }

  std::string login(SlotRole, std::optional<ByteView> pin) override {
    if (!pin || pin->empty()) throw Error(CKR_PIN_INCORRECT, "empty PIN");
    // A consumer PIN is "<consumer>:<secret>" (consumer add prints it). The config is read
    // anew, so a consumer added or removed since C_Initialize counts at once.
    std::string_view text(reinterpret_cast<const char*>(pin->data()), pin->size());
    std::size_t colon = text.find(':');
    Config config = load_config(config_.file);
    const ConsumerEntry* consumer =
        colon == std::string_view::npos ? nullptr : config.find_consumer(text.substr(0, colon));
    // An unknown name costs the same scrypt as a known one, so timing does not reveal names.
    static const ConsumerEntry unknown = make_consumer_entry("unknown", Secret("unknown:pin"));
    bool matches = pin_matches(consumer ? *consumer : unknown, text);
    if (!consumer || !matches) throw Error(CKR_PIN_INCORRECT, "consumer PIN rejected");
    return consumer->name;
  }

  void logout(SlotRole) noexcept override {}

  Signature sign(SlotRole slot, const std::string& consumer, const KeyRecord& key,
                 ByteView data) override {
    // A signature initialised before a rotation may complete (the key is then in the overlap
    // slot); one whose key was revoked, retired or has left its overlap window may not.
    if (!view()->shows(key.fingerprint)) {
      throw key_withdrawn_since_sign_init();
    }
    boost::json::object entry{{"consumer", consumer},
                              {"fingerprint", key.fingerprint.hex()},
                              {"label", key.label},
                              {"role", role_name(slot)},
                              {"message_sha256", hex_encode(sha256(data))}};
    Signature signature{};
    try {
      signature = backend_->sign(key.fingerprint, data);
    } catch (const Error& e) {
      if (signing_log_) {
        entry["result"] = rv_name(e.rv());
        try {
          signing_log_->append("sign", entry, now());
        } catch (const Error& log_error_) {
          log_error(std::string("signing log: ") + log_error_.what());
        }
      }
      throw;
    }
    if (signing_log_) {
      entry["result"] = "ok";
      signing_log_->append("sign", entry, now());
    }
    return signature;
  }

 private:
  Config config_;
  std::unique_ptr<Backend> backend_;
  std::optional<ChainedLog> signing_log_;
  HandleRegistry handles_;

  std::mutex view_mutex_;     // guards view_ (held briefly)
  std::mutex rebuild_mutex_;  // one rebuild at a time (held while the backend is asked)
  std::shared_ptr<const TokenView> view_;
};

}  // namespace

std::unique_ptr<KeySource> make_embedded_source(const Config& config) {
  return std::make_unique<EmbeddedSource>(config);
}

}  // namespace brokerkey
