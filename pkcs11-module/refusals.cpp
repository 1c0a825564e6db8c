// Every PKCS#11 call brokerkey does not perform, and the code it answers with. This is the
// whole of the write policy: the view is read-only, so nothing a client sends can create,
// change, copy, wrap, derive or destroy an object, or change a PIN or the token.
#include "bridge.h"
#include "core/error.h"
#include "module_state.h"

namespace brokerkey::bridge {

namespace {

struct Refusal {
  CK_RV rv;
  const char* why;
};

Refusal refusal_for(Refused call) {
  switch (call) {
    // The spec's code for an action the token's policy prohibits.
    case Refused::init_token:
    case Refused::init_pin:
    case Refused::set_pin:
      return {CKR_ACTION_PROHIBITED, "the broker token and its PINs are managed by brokerkey"};
    case Refused::create_object:
    case Refused::copy_object:
    case Refused::generate_key:
    case Refused::generate_key_pair:
    case Refused::unwrap_key:
    case Refused::derive_key:
      return {CKR_ACTION_PROHIBITED, "objects are minted only by 'brokerkey mint/rotate'"};
    case Refused::destroy_object:
      return {CKR_ACTION_PROHIBITED, "objects are destroyed only by 'brokerkey retire/revoke'"};
    case Refused::wrap_key:
      return {CKR_ACTION_PROHIBITED, "broker keys never leave the backend"};
    // Every object is CKA_MODIFIABLE=FALSE.
    case Refused::set_attribute_value:
      return {CKR_ATTRIBUTE_READ_ONLY, "every attribute is read-only"};
    case Refused::get_operation_state:
    case Refused::set_operation_state:
    case Refused::get_object_size:
    case Refused::encrypt:
    case Refused::decrypt:
    case Refused::digest:
    case Refused::sign_recover:
    case Refused::verify_recover:
    case Refused::dual_function:
    case Refused::wait_for_slot_event:
      return {CKR_FUNCTION_NOT_SUPPORTED, "not offered by brokerkey"};
    case Refused::seed_random:
      return {CKR_RANDOM_SEED_NOT_SUPPORTED, "the random generator takes no seed"};
    case Refused::function_status:
    case Refused::cancel_function:
      return {CKR_FUNCTION_NOT_PARALLEL, "no parallel functions"};
  }
  return {CKR_FUNCTION_NOT_SUPPORTED, "not offered by brokerkey"};
}

}  // namespace

CK_RV refuse(Refused call, std::optional<CK_SESSION_HANDLE> session) {
  auto state = current_state();
  if (session) state->sessions().get(*session);
  Refusal refusal = refusal_for(call);
  throw Error(refusal.rv, refusal.why);
}

}  // namespace brokerkey::bridge
