#include "core/error.h"

#include <cstdio>

namespace brokerkey {

Error::Error(CK_RV rv, const std::string& message, Loc where)
    : std::runtime_error(message), rv_(rv), where_(where) {}

Error arguments_bad(const std::string& what, Loc where) {
  return Error(CKR_ARGUMENTS_BAD, what, where);
}
Error not_found(const std::string& what, Loc where) {
  return Error(CKR_GENERAL_ERROR, what, where);
}
Error already_exists(const std::string& what, Loc where) {
  return Error(CKR_GENERAL_ERROR, what, where);
}
Error invalid_input(const std::string& what, Loc where) {
  return Error(CKR_ARGUMENTS_BAD, what, where);
}
Error action_prohibited(const std::string& what, Loc where) {
  return Error(CKR_ACTION_PROHIBITED, what, where);
}
Error config_bad(const std::string& what, Loc where) {
  return Error(CKR_GENERAL_ERROR, what, where);
}
Error file_error(const std::string& what, Loc where) {
  return Error(CKR_GENERAL_ERROR, what, where);
}
Error backend_failed(const std::string& what, CK_RV backend_rv, Loc where) {
  return Error(CKR_DEVICE_ERROR, what + " (backend returned " + rv_name(backend_rv) + ")", where);
}
Error integrity_failed(const std::string& what, Loc where) {
  return Error(CKR_DEVICE_ERROR, what, where);
}
Error crypto_failed(const std::string& what, Loc where) {
  return Error(CKR_FUNCTION_FAILED, what, where);
}

std::string rv_name(CK_RV rv) {
  switch (rv) {
#define BROKERKEY_RV(name) \
  case name:               \
    return #name;
    BROKERKEY_RV(CKR_OK)
    BROKERKEY_RV(CKR_CANCEL)
    BROKERKEY_RV(CKR_HOST_MEMORY)
    BROKERKEY_RV(CKR_SLOT_ID_INVALID)
    BROKERKEY_RV(CKR_GENERAL_ERROR)
    BROKERKEY_RV(CKR_FUNCTION_FAILED)
    BROKERKEY_RV(CKR_ARGUMENTS_BAD)
    BROKERKEY_RV(CKR_CANT_LOCK)
    BROKERKEY_RV(CKR_ATTRIBUTE_READ_ONLY)
    BROKERKEY_RV(CKR_ATTRIBUTE_SENSITIVE)
    BROKERKEY_RV(CKR_ATTRIBUTE_TYPE_INVALID)
    BROKERKEY_RV(CKR_ATTRIBUTE_VALUE_INVALID)
    BROKERKEY_RV(CKR_ACTION_PROHIBITED)
    BROKERKEY_RV(CKR_DATA_LEN_RANGE)
    BROKERKEY_RV(CKR_DEVICE_ERROR)
    BROKERKEY_RV(CKR_DEVICE_MEMORY)
    BROKERKEY_RV(CKR_DEVICE_REMOVED)
    BROKERKEY_RV(CKR_FUNCTION_NOT_SUPPORTED)
    BROKERKEY_RV(CKR_KEY_HANDLE_INVALID)
    BROKERKEY_RV(CKR_KEY_TYPE_INCONSISTENT)
    BROKERKEY_RV(CKR_KEY_FUNCTION_NOT_PERMITTED)
    BROKERKEY_RV(CKR_MECHANISM_INVALID)
    BROKERKEY_RV(CKR_MECHANISM_PARAM_INVALID)
    BROKERKEY_RV(CKR_OBJECT_HANDLE_INVALID)
    BROKERKEY_RV(CKR_OPERATION_ACTIVE)
    BROKERKEY_RV(CKR_OPERATION_NOT_INITIALIZED)
    BROKERKEY_RV(CKR_PIN_INCORRECT)
    BROKERKEY_RV(CKR_PIN_LOCKED)
    BROKERKEY_RV(CKR_PIN_LEN_RANGE)
    BROKERKEY_RV(CKR_SESSION_CLOSED)
    BROKERKEY_RV(CKR_SESSION_HANDLE_INVALID)
    BROKERKEY_RV(CKR_SESSION_PARALLEL_NOT_SUPPORTED)
    BROKERKEY_RV(CKR_SESSION_READ_ONLY)
    BROKERKEY_RV(CKR_SIGNATURE_INVALID)
    BROKERKEY_RV(CKR_SIGNATURE_LEN_RANGE)
    BROKERKEY_RV(CKR_TEMPLATE_INCOMPLETE)
    BROKERKEY_RV(CKR_TEMPLATE_INCONSISTENT)
    BROKERKEY_RV(CKR_TOKEN_NOT_PRESENT)
    BROKERKEY_RV(CKR_TOKEN_NOT_RECOGNIZED)
    BROKERKEY_RV(CKR_TOKEN_WRITE_PROTECTED)
    BROKERKEY_RV(CKR_USER_ALREADY_LOGGED_IN)
    BROKERKEY_RV(CKR_USER_NOT_LOGGED_IN)
    BROKERKEY_RV(CKR_USER_PIN_NOT_INITIALIZED)
    BROKERKEY_RV(CKR_USER_TYPE_INVALID)
    BROKERKEY_RV(CKR_RANDOM_SEED_NOT_SUPPORTED)
    BROKERKEY_RV(CKR_BUFFER_TOO_SMALL)
    BROKERKEY_RV(CKR_CRYPTOKI_NOT_INITIALIZED)
    BROKERKEY_RV(CKR_CRYPTOKI_ALREADY_INITIALIZED)
    BROKERKEY_RV(CKR_CURVE_NOT_SUPPORTED)
    BROKERKEY_RV(CKR_DOMAIN_PARAMS_INVALID)
#undef BROKERKEY_RV
    default: {
      char text[32];
      std::snprintf(text, sizeof text, "CKR 0x%lx", static_cast<unsigned long>(rv));
      return text;
    }
  }
}

}  // namespace brokerkey
