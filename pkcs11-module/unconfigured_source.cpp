// The key source of a process with no brokerkey configuration (key_source.h): p11-kit loads
// the module into every program of every user, and most of them are not consumers. They see
// two slots without a token; nothing can be opened, logged into or signed.
#include "key_source.h"

namespace brokerkey {
namespace {

class UnconfiguredSource final : public KeySource {
 public:
  std::shared_ptr<const TokenView> view() override { return empty_; }
  bool protected_authentication_path() const override { return false; }

  // Unreachable through the bridge (no token, so no session), refused all the same.
  std::string login(SlotRole, std::optional<ByteView>) override {
    throw Error(CKR_PIN_INCORRECT, "no brokerkey configuration");
  }
  void logout(SlotRole) noexcept override {}
  Signature sign(SlotRole, const std::string&, const KeyRecord&, ByteView) override {
    throw key_withdrawn_since_sign_init();
  }

 private:
  std::shared_ptr<const TokenView> empty_ = std::make_shared<const TokenView>();
};

}  // namespace

std::unique_ptr<KeySource> make_unconfigured_source() { return std::make_unique<UnconfiguredSource>(); }

}  // namespace brokerkey
