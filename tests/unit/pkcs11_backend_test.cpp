#define BOOST_TEST_MODULE pkcs11_backend
#include <dlfcn.h>

#include <boost/test/unit_test.hpp>

#include "core/backend_module.h"
#include "core/files.h"
#include "core/pkcs11_backend.h"
#include "temp_dir.h"

using namespace brokerkey;

namespace {

constexpr auto kPrivateFile = fs::perms::owner_read | fs::perms::owner_write;

// A fresh SoftHSM token in a temporary directory, provisioned as `brokerkey init` does it.
struct SoftHsmToken {
  TempDir dir;
  BackendConfig config{"/usr/lib/softhsm/libsofthsm2.so", "store", dir.path() / "backend.pin",
                       {{"SOFTHSM2_CONF", (dir.path() / "softhsm2.conf").string()}}};
  SoftHsmToken() {
    make_private_directory(dir.path() / "tokens");
    write_new_file(dir.path() / "softhsm2.conf",
                   "directories.tokendir = " + (dir.path() / "tokens").string() +
                       "\nobjectstore.backend = file\nlog.level = ERROR\n",
                   kPrivateFile);
    write_new_file(config.pin_file, "user-pin\n", kPrivateFile);
    provision_backend_token(config, "so-pin", "user-pin");
  }
};

}  // namespace

// Found by fuzz/module_fuzz: C_SignInit then C_SignFinal with no C_SignUpdate (or C_Sign with
// NULL data of length 0) failed with CKR_DEVICE_ERROR, because the empty message reached
// SoftHSM's C_Sign as a NULL pointer, which it refuses.
BOOST_FIXTURE_TEST_CASE(an_empty_message_is_signed, SoftHsmToken) {
  Pkcs11Backend backend(config);
  PublicKey key = backend.generate("a-b-ed25519-c");
  Signature signature = backend.sign(fingerprint_of(key), ByteView());
  BOOST_TEST(ed25519_verify(key, ByteView(), signature));
}

// A backend is loaded from a private copy of the checked file (issue 11 §6): not the instance
// a plain dlopen of the same file gives, and two different backend files in one process are
// two different modules (the copies' names, /proc/self/fd/N, never collide).
BOOST_AUTO_TEST_CASE(backend_is_a_private_copy_and_copies_never_collide) {
  SoftHsmToken token;
  BackendModule softhsm(token.config.module, token.config.env);
  void* shared = ::dlopen(token.config.module.c_str(), RTLD_NOW | RTLD_LOCAL);
  BOOST_REQUIRE(shared);
  auto get_list = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(shared, "C_GetFunctionList"));
  CK_FUNCTION_LIST* plain = nullptr;
  BOOST_REQUIRE(get_list(&plain) == CKR_OK);
  BOOST_TEST(plain != softhsm.fn());
  // The plain instance was never initialised: the copy's initialisation is not shared.
  CK_INFO info{};
  BOOST_TEST(plain->C_GetInfo(&info) == CKR_CRYPTOKI_NOT_INITIALIZED);
  ::dlclose(shared);

  fs::path other = "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-trust.so";
  if (!fs::exists(other)) return;
  BackendModule trust(other, {});
  BOOST_TEST(trust.fn() != softhsm.fn());
  BOOST_REQUIRE(trust.fn()->C_GetInfo(&info) == CKR_OK);
  BOOST_TEST(trim_padded(info.manufacturerID, sizeof info.manufacturerID) != "SoftHSM");
}
