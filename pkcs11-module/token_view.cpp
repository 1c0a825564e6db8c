#include "token_view.h"

#include "core/error.h"
#include "log.h"

namespace brokerkey {

bool TokenView::shows(const Fingerprint& fingerprint) const {
  for (const auto& slot_view : slots) {
    if (slot_view.key && slot_view.key->fingerprint == fingerprint) return true;
  }
  return false;
}

std::shared_ptr<const Object> TokenView::object(CK_OBJECT_HANDLE handle) const {
  for (const auto& slot_view : slots) {
    for (const auto& object : slot_view.objects) {
      if (object->handle() == handle) return object;
    }
  }
  return nullptr;
}

namespace {

// The backend must hold this key, and its public key must hash to the ledger's fingerprint:
// the module never shows a key it cannot prove.
bool backend_proves(Backend& backend, const KeyRecord& key, SlotRole role) {
  std::optional<BackendKey> found = backend.find_key(key.fingerprint);
  std::string what = std::string(role_name(role)) + " key " + key.label + " (" +
                     key.fingerprint.hex() + ")";
  if (!found) {
    log_error(what + " is named by the ledger but missing from the backend; not shown");
    return false;
  }
  if (!found->public_key || fingerprint_of(*found->public_key) != key.fingerprint ||
      *found->public_key != key.public_key) {
    log_error(what + ": the backend's public key does not hash to the ledger's fingerprint; not shown");
    return false;
  }
  if (role == SlotRole::current && !found->has_private_key) {
    log_error(what + " has no private key in the backend; not shown");
    return false;
  }
  return true;
}

}  // namespace

std::shared_ptr<const TokenView> build_token_view(const Config& config, Backend& backend,
                                                  HandleRegistry& handles, TimePoint at) {
  auto view = std::make_shared<TokenView>();
  view->stamp = stamp_of(config.ledger);
  view->built_at = at;
  view->valid_until = TimePoint::max();
  try {
    LedgerState state = Ledger(config.ledger).state();
    if (!state.initialized) {
      log_error("ledger " + config.ledger.string() + " is empty or missing; no key shown");
      return view;
    }
    for (SlotRole role : {SlotRole::current, SlotRole::overlap}) {
      const KeyRecord* key = role == SlotRole::current ? state.current(at) : state.overlap(at);
      if (!key || !backend_proves(backend, *key, role)) continue;
      if (key->overlap_until) view->valid_until = std::min(view->valid_until, *key->overlap_until);
      SlotView& slot = view->slots[static_cast<std::size_t>(role)];
      slot.key = *key;
      slot.objects = build_key_objects(*key, role, handles);
    }
  } catch (const std::exception& e) {
    log_error(std::string("no key shown: ") + e.what());
    view->slots[0] = {};
    view->slots[1] = {};
    // The cause may pass (a busy backend): look again soon, not only when the ledger changes.
    view->valid_until = at + std::chrono::seconds(2);
  }
  return view;
}

}  // namespace brokerkey
