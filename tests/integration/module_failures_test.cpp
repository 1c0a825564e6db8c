// What the module does when its world is wrong: no or broken configuration, an unreadable
// PIN, a damaged ledger, a backend key that is not the ledger's. Each gives a clean code and
// never a crash or a wrong key. Also the C_Initialize / C_Finalize life cycle.
#define BOOST_TEST_MODULE module_failures
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
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

// No configuration anywhere is not a failure: p11-kit loads the module into every program of
// every user, most of whom are no consumers. Both slots are there without a token, and the
// module says nothing unless BROKERKEY_DEBUG asks (p11kit_test.sh checks that through p11-kit).
BOOST_AUTO_TEST_CASE(no_configuration_anywhere_shows_no_token) {
  TempBroker broker(TempBroker::With::key);
  BOOST_REQUIRE_MESSAGE(!std::filesystem::exists("/etc/brokerkey/brokerkey.conf"),
                        "this machine has /etc/brokerkey/brokerkey.conf, so no process here is unconfigured");
  std::string home = std::getenv("HOME") ? std::getenv("HOME") : "";
  std::filesystem::create_directory(broker.dir() / "empty-home");
  ::setenv("HOME", (broker.dir() / "empty-home").c_str(), 1);
  ::unsetenv("BROKERKEY_CONF");
  LoadedModule module(false);
  BOOST_TEST(initialize(module) == CKR_OK);
  BOOST_TEST(present_slots(module) == 0u);
  CK_ULONG all = 0;
  BOOST_TEST(module->C_GetSlotList(CK_FALSE, nullptr, &all) == CKR_OK);
  BOOST_TEST(all == 2u);
  CK_TOKEN_INFO token{};
  BOOST_TEST(module->C_GetTokenInfo(0, &token) == CKR_TOKEN_NOT_PRESENT);
  CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
  BOOST_TEST(module->C_OpenSession(0, CKF_SERIAL_SESSION, nullptr, nullptr, &session) == CKR_TOKEN_NOT_PRESENT);
  BOOST_TEST(module->C_Finalize(nullptr) == CKR_OK);
  // A configuration named but absent is still an error (missing_and_broken_configs_fail_cleanly).
  ::setenv("HOME", home.c_str(), 1);
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

// After fork() the child sees CKR_CRYPTOKI_NOT_INITIALIZED until it calls C_Initialize,
// then works; the parent is not disturbed.
BOOST_AUTO_TEST_CASE(forked_child_must_initialize_again) {
  TempBroker broker;
  LoadedModule module;
  CK_SESSION_HANDLE parent_session = module.open_session(broker.pin());
  CK_OBJECT_HANDLE key = module.find_one(parent_session, CKO_PRIVATE_KEY);
  pid_t pid = ::fork();
  if (pid == 0) {
    // No Boost.Test macros here: report through the exit status.
    CK_FUNCTION_LIST* f = module.fn();
    CK_ULONG count = 0;
    if (f->C_GetSlotList(CK_TRUE, nullptr, &count) != CKR_CRYPTOKI_NOT_INITIALIZED) ::_exit(10);
    if (f->C_CloseSession(parent_session) != CKR_CRYPTOKI_NOT_INITIALIZED) ::_exit(11);
    CK_SESSION_HANDLE session = 0;
    CK_OBJECT_HANDLE child_key = 0;
    if (int step = initialize_in_child(f, broker.pin(), session, child_key)) ::_exit(step);
    CK_MECHANISM eddsa{CKM_EDDSA, nullptr, 0};
    CK_BYTE message[] = "from the child", signature[64];
    CK_ULONG length = sizeof signature;
    if (f->C_SignInit(session, &eddsa, child_key) != CKR_OK ||
        f->C_Sign(session, message, sizeof message, signature, &length) != CKR_OK) {
      ::_exit(16);
    }
    if (f->C_Finalize(nullptr) != CKR_OK) ::_exit(17);
    ::_exit(0);
  }
  check_child_succeeded(pid);
  // The parent's session and login are untouched.
  CK_MECHANISM eddsa{CKM_EDDSA, nullptr, 0};
  CK_BYTE message[] = "from the parent", signature[64];
  CK_ULONG length = sizeof signature;
  BOOST_TEST(module->C_SignInit(parent_session, &eddsa, key) == CKR_OK);
  BOOST_TEST(module->C_Sign(parent_session, message, sizeof message, signature, &length) == CKR_OK);
}

// Issue 11 §4, through C_Sign: a writer holding the signing log's lock beyond the deadline
// gives CKR_FUNCTION_FAILED in bounded time; a damaged last record gives CKR_DEVICE_ERROR
// until `brokerkey health --repair` moves it aside; then signing works again.
BOOST_AUTO_TEST_CASE(signing_log_lock_and_damaged_tail_through_c_sign) {
  TempBroker broker;
  LoadedModule module;
  CK_SESSION_HANDLE session = module.open_session(broker.pin());
  CK_OBJECT_HANDLE key = module.find_one(session, CKO_PRIVATE_KEY);
  auto sign = [&] {
    CK_MECHANISM eddsa{CKM_EDDSA, nullptr, 0};
    CK_BYTE message[] = "logged", signature[64];
    CK_ULONG length = sizeof signature;
    CK_RV rv = module->C_SignInit(session, &eddsa, key);
    if (rv != CKR_OK) return rv;
    return module->C_Sign(session, message, sizeof message, signature, &length);
  };
  BOOST_REQUIRE(sign() == CKR_OK);
  fs::path log = broker.broker_dir() / "signing-log.jsonl";

  int ready[2];
  BOOST_REQUIRE(::pipe(ready) == 0);
  pid_t writer = ::fork();
  BOOST_REQUIRE(writer >= 0);
  if (writer == 0) {
    int fd = ::open((log.string() + ".lock").c_str(), O_RDWR);
    struct flock range {};
    range.l_type = F_WRLCK;
    if (fd < 0 || ::fcntl(fd, F_OFD_SETLK, &range) != 0) ::_exit(1);
    char byte = 1;
    [[maybe_unused]] ssize_t n = ::write(ready[1], &byte, 1);
    for (;;) ::pause();
  }
  char byte = 0;
  BOOST_REQUIRE(::read(ready[0], &byte, 1) == 1);
  auto start = std::chrono::steady_clock::now();
  BOOST_TEST(sign() == CKR_FUNCTION_FAILED);
  double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  BOOST_TEST(waited < 8.0);
  ::kill(writer, SIGKILL);
  ::waitpid(writer, nullptr, 0);
  ::close(ready[0]);
  ::close(ready[1]);
  BOOST_TEST(sign() == CKR_OK);

  std::ofstream(log, std::ios::app) << "{\"truncated\":\n";
  BOOST_TEST(sign() == CKR_DEVICE_ERROR);
  std::string health = broker.keytool("health", 2);
  BOOST_TEST(health.find("is not a JSON object (a damaged tail") != std::string::npos, health);
  std::string repaired = broker.keytool("health --repair", 0);
  BOOST_TEST(repaired.find("repaired: moved lines") != std::string::npos, repaired);
  BOOST_TEST(sign() == CKR_OK);
  BOOST_TEST(!brokerkey::verify_chain(brokerkey::ChainedLog(log).read_lines()));
}
