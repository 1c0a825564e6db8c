// Every PKCS#11 call brokerkey does not perform, and the code it answers with. This is the
// whole of the write policy: the view is read-only, so nothing a client sends can create,
// change, copy, wrap, derive or destroy an object, or change a PIN or the token.
//
// Each code is one the PKCS#11 3.0 base specification lists for that function (section 5, the
// function's "Return values"), or, for a function brokerkey does not implement at all,
// CKR_FUNCTION_NOT_SUPPORTED, which section 5.1.6 gives to every such stub. The choices:
//
// - The token is read-only, but its CK_TOKEN_INFO cannot say so: with CKF_WRITE_PROTECTED the
//   spec requires refusing read-write sessions, and OpenSSH opens only those (bridge.cpp). A
//   call that would write to the token therefore answers CKR_TOKEN_WRITE_PROTECTED where its
//   list has it (C_InitToken, C_SetPIN, C_CreateObject, C_GenerateKey(Pair), C_UnwrapKey,
//   C_DeriveKey). The spec ranks it above CKR_SESSION_READ_ONLY, so it is right in read-only
//   sessions too.
// - C_CopyObject, C_SetAttributeValue and C_DestroyObject on an object the session can see:
//   CKR_ACTION_PROHIBITED, the code the spec gives for an object whose CKA_COPYABLE,
//   CKA_MODIFIABLE or CKA_DESTROYABLE is CK_FALSE, as every brokerkey object's is. A handle
//   the session cannot see is CKR_OBJECT_HANDLE_INVALID.
// - C_WrapKey: the key to wrap must be a private or secret key with CKA_EXTRACTABLE TRUE. The
//   private key is CKA_EXTRACTABLE FALSE: CKR_KEY_UNEXTRACTABLE; a public key cannot be
//   wrapped: CKR_KEY_NOT_WRAPPABLE; anything else is not a key: CKR_KEY_HANDLE_INVALID.
// - There is no security officer. C_InitPIN may only be called in the "R/W SO Functions"
//   state, which no session can reach: CKR_USER_NOT_LOGGED_IN, as the spec says for every other
//   state. C_Login(CKU_SO): CKR_USER_ANOTHER_ALREADY_LOGGED_IN while the normal user is logged
//   in, CKR_SESSION_READ_ONLY_EXISTS while a read-only session is open (the spec's two rules),
//   else CKR_PIN_LOCKED: no SO PIN can ever be right, and CK_TOKEN_INFO says so with
//   CKF_SO_PIN_LOCKED.
// - C_SeedRandom: CKR_RANDOM_SEED_NOT_SUPPORTED (CKR_ARGUMENTS_BAD first for a NULL seed with a
//   length); C_GetFunctionStatus, C_CancelFunction (legacy):
//   CKR_FUNCTION_NOT_PARALLEL; both from the functions' own lists.
//
// tests/integration/module_return_codes_test.cpp checks every refusal against its function's
// list; docs/ATTRIBUTES.md lists them.
#include "bridge.h"
#include "core/error.h"
#include "module_state.h"

namespace brokerkey::bridge {

namespace {

// The object `handle` names, if the session can see it: in the session's slot, and private only
// after login.
std::shared_ptr<const Object> visible_object(ModuleState& state, const Session& session,
                                             CK_OBJECT_HANDLE handle) {
  auto object = state.session_view()->object(handle);
  if (!object || object->slot() != session.slot) return nullptr;
  if (object->is_private() && !state.sessions().consumer(session.slot)) return nullptr;
  return object;
}

Error refusal(ModuleState& state, Refused call, const RefusedCall& target, const Session* session) {
  // Calls with an object need a session: entry_points.cpp always passes one with it.
  auto object = [&] { return visible_object(state, *session, *target.object); };
  switch (call) {
    case Refused::init_token:
      return Error(CKR_TOKEN_WRITE_PROTECTED,
                   "the broker token is set up only by 'brokerkey init'");
    case Refused::set_pin:
      return Error(CKR_TOKEN_WRITE_PROTECTED,
                   "consumer PINs are kept by 'brokerkey consumer', not on the token");
    case Refused::init_pin:
      return Error(CKR_USER_NOT_LOGGED_IN,
                   "C_InitPIN needs a security officer; brokerkey has none");
    case Refused::login_so: {
      if (state.sessions().consumer(session->slot)) {
        return Error(CKR_USER_ANOTHER_ALREADY_LOGGED_IN, "a consumer is logged in");
      }
      if (state.sessions().count(session->slot, false) >
          state.sessions().count(session->slot, true)) {
        return Error(CKR_SESSION_READ_ONLY_EXISTS,
                     "the SO cannot log in while a read-only session is open");
      }
      return Error(CKR_PIN_LOCKED, "brokerkey has no security officer");
    }
    case Refused::create_object:
    case Refused::generate_key:
    case Refused::generate_key_pair:
    case Refused::unwrap_key:
    case Refused::derive_key:
      return Error(CKR_TOKEN_WRITE_PROTECTED, "objects are minted only by 'brokerkey mint/rotate'");
    case Refused::copy_object:
      if (!object()) return Error(CKR_OBJECT_HANDLE_INVALID, "no such object");
      return Error(CKR_ACTION_PROHIBITED, "every object is CKA_COPYABLE=FALSE");
    case Refused::set_attribute_value:
      if (!object()) return Error(CKR_OBJECT_HANDLE_INVALID, "no such object");
      return Error(CKR_ACTION_PROHIBITED, "every object is CKA_MODIFIABLE=FALSE");
    case Refused::destroy_object:
      if (!object()) return Error(CKR_OBJECT_HANDLE_INVALID, "no such object");
      return Error(CKR_ACTION_PROHIBITED,
                   "objects are destroyed only by 'brokerkey retire/revoke'");
    case Refused::wrap_key: {
      auto key = object();
      if (key && key->object_class() == CKO_PRIVATE_KEY) {
        return Error(CKR_KEY_UNEXTRACTABLE, "broker keys never leave the backend");
      }
      if (key && key->object_class() == CKO_PUBLIC_KEY) {
        return Error(CKR_KEY_NOT_WRAPPABLE, "a public key cannot be wrapped");
      }
      return Error(CKR_KEY_HANDLE_INVALID, "no such key");
    }
    case Refused::get_operation_state:
    case Refused::set_operation_state:
    case Refused::encrypt:
    case Refused::decrypt:
    case Refused::digest:
    case Refused::sign_recover:
    case Refused::verify_recover:
    case Refused::dual_function:
    case Refused::wait_for_slot_event:
      return Error(CKR_FUNCTION_NOT_SUPPORTED, "not offered by brokerkey");
    case Refused::seed_random:
      return Error(CKR_RANDOM_SEED_NOT_SUPPORTED, "the random generator takes no seed");
    case Refused::function_status:
    case Refused::cancel_function:
      return Error(CKR_FUNCTION_NOT_PARALLEL, "no parallel functions");
  }
  return Error(CKR_FUNCTION_NOT_SUPPORTED, "not offered by brokerkey");
}

}  // namespace

CK_RV refuse(Refused call, const RefusedCall& target) {
  // Initialisation, the session handle and the slot are checked first, as every other call
  // checks them.
  auto state = current_state();
  std::shared_ptr<Session> session;
  if (target.session) session = state->sessions().get(*target.session);
  if (target.arguments_bad) throw arguments_bad("NULL data with a non-zero length");
  if (target.slot) {
    SlotRole role = slot_role(*target.slot);
    if (!state->view()->slot(role).key) throw Error(CKR_TOKEN_NOT_PRESENT, "no token in that slot");
  }
  throw refusal(*state, call, target, session.get());
}

}  // namespace brokerkey::bridge
