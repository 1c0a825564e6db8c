#define BOOST_TEST_MODULE pkcs11_backend
#include <boost/test/unit_test.hpp>

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
