// Loading a backend PKCS#11 module the way p11-kit does: refuse to load ourselves, initialise
// with CKF_OS_LOCKING_OK, accept CKR_CRYPTOKI_ALREADY_INITIALIZED (and then never finalise a
// module someone else initialised).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <vector>
#include <string>
#include <string_view>

#include "core/pkcs11.h"

namespace brokerkey {

namespace fs = std::filesystem;

class BackendModule {
 public:
  // `env` is set while the module initialises (SoftHSM reads SOFTHSM2_CONF then) and restored
  // afterwards, so the host process's environment is left as it was.
  // `role` names the module in messages: "backend", or "brokerkey" when a client loads it.
  // A backend is opened with open_trusted (the file and every directory above it pass the
  // trust rule of core/files.h) and loaded from a sealed in-memory copy of what was checked,
  // so it is an instance of brokerkey's own that no other user of the same library file in the
  // process shares (p11-kit's SoftHSM registration would otherwise share its login). Such a
  // module is not loaded by its path, so it must not need $ORIGIN in its RPATH/RUNPATH.
  BackendModule(const fs::path& path, const std::map<std::string, std::string>& env,
                std::string_view role = "backend");
  BackendModule(const BackendModule&) = delete;
  BackendModule& operator=(const BackendModule&) = delete;
  ~BackendModule();

  CK_FUNCTION_LIST* fn() const { return functions_; }
  const fs::path& path() const { return path_; }

  // The slot holding an initialised token with this label; throws not_found.
  CK_SLOT_ID slot_of_token(std::string_view label) const;
  // The first slot with a token that is not yet initialised (SoftHSM's spare slot).
  CK_SLOT_ID free_slot() const;

 private:
  fs::path path_;
  void* handle_ = nullptr;
  CK_FUNCTION_LIST* functions_ = nullptr;
  bool we_initialized_ = false;
  bool shared_copy_ = false;  // the process-wide private copy of a backend: never dlclose'd
};

// Throws backend_failed naming the module and the call, unless rv is CKR_OK. `module` is
// "brokerkey module" when a client of the module checks it.
void check_backend(CK_RV rv, const char* call, std::string_view module = "backend");

// PKCS#11 takes PINs through non-const pointers it never writes through.
CK_UTF8CHAR_PTR pin_pointer(std::string_view pin);
// C_Login with a PIN held as text.
CK_RV log_in(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session, CK_USER_TYPE type, std::string_view pin);

// Reads one variable-length attribute; nullopt if the object does not have it.
std::optional<std::vector<unsigned char>> read_attribute(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session,
                                                         CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type);
// Every object matching `match`.
std::vector<CK_OBJECT_HANDLE> find_objects(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session,
                                           std::vector<CK_ATTRIBUTE> match);

// A fixed-width, blank-padded PKCS#11 text field as a string without the padding.
std::string trim_padded(const unsigned char* field, std::size_t size);

}  // namespace brokerkey
