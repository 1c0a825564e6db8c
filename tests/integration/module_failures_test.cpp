// What the module does when its world is wrong: no or broken configuration, an unreadable
// PIN, a damaged ledger, a backend key that is not the ledger's. Each gives a clean code and
// never a crash or a wrong key. Also the C_Initialize / C_Finalize life cycle.
#define BOOST_TEST_MODULE module_failures
#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <fstream>

#include "core/chained_log.h"
#include "temp_broker.h"

namespace {

CK_RV initialize(const LoadedModule& module) {
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  return module->C_Initialize(&args);
}

CK_ULONG present_slots(const LoadedModule& module) {
  CK_ULONG count = 99;
  BOOST_REQUIRE(module->C_GetSlotList(CK_TRUE, nullptr, &count) == CKR_OK);
  return count;
}

}  // namespace

BOOST_AUTO_TEST_CASE(life_cycle) {
  TempBroker broker(TempBroker::With::key);
  LoadedModule module(false);
  CK_ULONG count = 0;
  BOOST_TEST(module->C_GetSlotList(CK_TRUE, nullptr, &count) == CKR_CRYPTOKI_NOT_INITIALIZED);
  BOOST_TEST(module->C_Finalize(nullptr) == CKR_CRYPTOKI_NOT_INITIALIZED);
  BOOST_TEST(module->C_Initialize(nullptr) == CKR_OK);
  BOOST_TEST(initialize(module) == CKR_CRYPTOKI_ALREADY_INITIALIZED);
  CK_INFO info{};
  BOOST_TEST(module->C_GetInfo(&info) == CKR_OK);
  BOOST_TEST(info.cryptokiVersion.major == 2);
  CK_SESSION_HANDLE session = module.open_session("");
  int reserved = 0;
  BOOST_TEST(module->C_Finalize(&reserved) == CKR_ARGUMENTS_BAD);
  BOOST_TEST(module->C_Finalize(nullptr) == CKR_OK);  // with a session open
  BOOST_TEST(module->C_CloseSession(session) == CKR_CRYPTOKI_NOT_INITIALIZED);
  for (int i = 0; i < 3; ++i) {
    BOOST_REQUIRE(initialize(module) == CKR_OK);
    BOOST_TEST(present_slots(module) == 1u);
    BOOST_REQUIRE(module->C_Finalize(nullptr) == CKR_OK);
  }
}

BOOST_AUTO_TEST_CASE(initialize_args_are_checked) {
  TempBroker broker(TempBroker::With::key);
  LoadedModule module(false);
  CK_C_INITIALIZE_ARGS args{};
  int reserved = 0;
  args.pReserved = &reserved;
  BOOST_TEST(module->C_Initialize(&args) == CKR_ARGUMENTS_BAD);
  args = {};
  args.CreateMutex = reinterpret_cast<CK_CREATEMUTEX>(1);
  BOOST_TEST(module->C_Initialize(&args) == CKR_ARGUMENTS_BAD);
  args.DestroyMutex = reinterpret_cast<CK_DESTROYMUTEX>(1);
  args.LockMutex = reinterpret_cast<CK_LOCKMUTEX>(1);
  args.UnlockMutex = reinterpret_cast<CK_UNLOCKMUTEX>(1);
  BOOST_TEST(module->C_Initialize(&args) == CKR_CANT_LOCK);
  args.flags = CKF_OS_LOCKING_OK;
  BOOST_TEST(module->C_Initialize(&args) == CKR_OK);
  BOOST_TEST(module->C_Finalize(nullptr) == CKR_OK);
}

BOOST_AUTO_TEST_CASE(missing_and_broken_configs_fail_cleanly) {
  TempBroker broker(TempBroker::With::key);
  LoadedModule module(false);
  ::setenv("BROKERKEY_CONF", (broker.dir() / "absent.conf").c_str(), 1);
  BOOST_TEST(initialize(module) == CKR_GENERAL_ERROR);
  std::ofstream(broker.dir() / "broken.conf") << "{\"version\":1,";
  ::setenv("BROKERKEY_CONF", (broker.dir() / "broken.conf").c_str(), 1);
  BOOST_TEST(initialize(module) == CKR_GENERAL_ERROR);
  // Still usable once the configuration is right.
  ::setenv("BROKERKEY_CONF", broker.conf().c_str(), 1);
  BOOST_TEST(initialize(module) == CKR_OK);
  BOOST_TEST(module->C_Finalize(nullptr) == CKR_OK);
}

BOOST_AUTO_TEST_CASE(group_readable_backend_pin_is_refused) {
  TempBroker broker(TempBroker::With::key);
  LoadedModule module(false);
  ::chmod((broker.broker_dir() / "backend.pin").c_str(), 0640);
  BOOST_TEST(initialize(module) == CKR_GENERAL_ERROR);
  // The message names the file and the fix.
  CommandResult r = run_command("BROKERKEY_LOG=stderr " + std::string(BROKERKEY_TOOL) +
                                " fingerprint --check --module " BROKERKEY_MODULE_PATH);
  BOOST_TEST(r.status != 0);
  BOOST_TEST(r.output.find("backend.pin has mode 0640") != std::string::npos, r.output);
  BOOST_TEST(r.output.find("chmod 600") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_changed_ledger_byte_hides_the_key) {
  TempBroker broker(TempBroker::With::key);
  LoadedModule module;
  BOOST_TEST(present_slots(module) == 1u);
  fs::path ledger = broker.broker_dir() / "ledger.jsonl";
  std::string text = run_command("cat " + ledger.string()).output;
  text[text.find("\"label\":\"acme") + 9] = 'b';  // acme -> bcme
  std::ofstream(ledger, std::ios::trunc) << text;
  BOOST_TEST(present_slots(module) == 0u);  // seen without a restart
  CK_SESSION_HANDLE session = 0;
  BOOST_TEST(module->C_OpenSession(0, CKF_SERIAL_SESSION, nullptr, nullptr, &session) == CKR_TOKEN_NOT_PRESENT);
  broker.keytool("audit verify", 1);
}

BOOST_AUTO_TEST_CASE(a_swapped_backend_key_is_never_shown) {
  TempBroker broker(TempBroker::With::key_and_consumer);
  std::string fingerprint = broker.fingerprint();
  // Replace the backend key pair with another one under the same CKA_ID: the ledger's
  // fingerprint no longer matches the backend's public key.
  for (const char* type : {"privkey", "pubkey"}) {
    CommandResult r = broker.backend_tool(std::string("--delete-object --type ") + type + " --id " + fingerprint);
    BOOST_REQUIRE_MESSAGE(r.status == 0, r.output);
  }
  CommandResult r = broker.backend_tool("--keypairgen --key-type EC:edwards25519 --id " + fingerprint +
                                        " --label acme-git-signing-ed25519-prod");
  BOOST_REQUIRE_MESSAGE(r.status == 0, r.output);

  LoadedModule module;
  BOOST_TEST(present_slots(module) == 0u);
  CK_SESSION_HANDLE session = 0;
  BOOST_TEST(module->C_OpenSession(0, CKF_SERIAL_SESSION, nullptr, nullptr, &session) == CKR_TOKEN_NOT_PRESENT);
  CommandResult check = run_command("BROKERKEY_LOG=stderr " + std::string(BROKERKEY_TOOL) +
                                    " fingerprint --check --module " BROKERKEY_MODULE_PATH);
  BOOST_TEST(check.status == 1, check.output);
  BOOST_TEST(check.output.find("does not hash to the ledger's fingerprint") != std::string::npos, check.output);
}

BOOST_AUTO_TEST_CASE(no_key_yet_means_no_token) {
  TempBroker broker(TempBroker::With::nothing);
  LoadedModule module;
  BOOST_TEST(present_slots(module) == 0u);
  CK_TOKEN_INFO info{};
  BOOST_TEST(module->C_GetTokenInfo(0, &info) == CKR_TOKEN_NOT_PRESENT);
  broker.keytool("mint");
  BOOST_TEST(present_slots(module) == 1u);  // a mint reaches a running process
}
