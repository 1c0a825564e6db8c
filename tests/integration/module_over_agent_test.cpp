// The module in client mode (registered with BROKERKEY_TEST_MODULE_MODE=client only): the
// real brokerkey-agent on a real SoftHSM broker, the module reading nothing but a client
// configuration. The protected authentication path and the consumer PIN; the agent stopped
// (no token, CKR_DEVICE_REMOVED on open sessions; module_return_codes_test checks each code
// against its function's list in the PKCS#11 3.0 specification) and restarted (the same session signs again, its login replayed);
// refusals (CKR_FUNCTION_REJECTED, also after a revocation); a rotation seen
// at the next call; and fork (the child never uses the parent's connections). A lost
// connection is logged once per outage with its likely cause (the agent gone, or an account
// it maps to no consumer).
#define BOOST_TEST_MODULE module_over_agent
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "agent_client.h"
#include "core/bytes.h"
#include "core/chained_log.h"
#include "core/ed25519.h"
#include "temp_broker.h"

using namespace brokerkey;

namespace {

// The code `call` returns, by name. Whether each is in its function's list of the PKCS#11 3.0
// specification is module_return_codes_test's business (run in client mode too).
#define EXPECT_RV(call, expected) BOOST_TEST(rv_text(call) == rv_text(expected), #call)

struct Fixture {
  Fixture() { BOOST_REQUIRE_MESSAGE(client_mode(), "module_over_agent_test runs in client mode only"); }
  TempBroker broker;
  LoadedModule module;
  CK_MECHANISM eddsa{CKM_EDDSA, nullptr, 0};

  PublicKey current_key() const {
    std::string raw = run_command("BROKERKEY_CONF='" + broker.conf().string() + "' " + BROKERKEY_TOOL +
                                  " pubkey --format raw")
                          .output;
    BOOST_REQUIRE(raw.size() == 32u);
    PublicKey key;
    std::copy(raw.begin(), raw.end(), key.raw.begin());
    return key;
  }
  CK_RV login(CK_SESSION_HANDLE session, std::string pin) const {
    return module->C_Login(session, CKU_USER,
                           pin.empty() ? nullptr : reinterpret_cast<CK_UTF8CHAR_PTR>(pin.data()), pin.size());
  }
  // C_SignInit then C_Sign over `message`; the C_Sign code (the init must succeed).
  CK_RV sign(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key, const std::string& message, Bytes& signature) const {
    CK_RV rv = module->C_SignInit(session, const_cast<CK_MECHANISM*>(&eddsa), key);
    BOOST_REQUIRE_MESSAGE(rv == CKR_OK, "C_SignInit: " << rv_text(rv));
    signature.assign(64, 0);
    CK_ULONG length = signature.size();
    std::string data = message;
    return module->C_Sign(session, reinterpret_cast<CK_BYTE_PTR>(data.data()), data.size(), signature.data(), &length);
  }
  bool signs(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key, const std::string& message) const {
    Bytes signature;
    CK_RV rv = sign(session, key, message, signature);
    BOOST_TEST_MESSAGE("C_Sign: " << rv_text(rv));
    return rv == CKR_OK && ed25519_verify(current_key(), as_bytes(message), signature);
  }
};

// The module's log (pkcs11-module/log.cpp: stderr, which ctest turns off with
// BROKERKEY_LOG=none), caught in a file while this lives. Made before any thread of the test.
class ModuleLog {
 public:
  explicit ModuleLog(fs::path file) : file_(std::move(file)) {
    if (const char* before = std::getenv("BROKERKEY_LOG")) before_ = before;
    ::setenv("BROKERKEY_LOG", "stderr", 1);
    std::fflush(stderr);
    saved_ = ::dup(STDERR_FILENO);
    int fd = ::open(file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    BOOST_REQUIRE(saved_ >= 0 && fd >= 0);
    BOOST_REQUIRE(::dup2(fd, STDERR_FILENO) == STDERR_FILENO);
    ::close(fd);
  }
  ModuleLog(const ModuleLog&) = delete;
  ModuleLog& operator=(const ModuleLog&) = delete;
  ~ModuleLog() {
    std::fflush(stderr);
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    if (before_) {
      ::setenv("BROKERKEY_LOG", before_->c_str(), 1);
    } else {
      ::unsetenv("BROKERKEY_LOG");
    }
  }
  std::vector<std::string> lines() const {
    std::fflush(stderr);
    std::ifstream in(file_);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }
  // How many lines are `line` exactly.
  long count(const std::string& line) const {
    auto all = lines();
    return std::count(all.begin(), all.end(), line);
  }
  std::string text() const {
    std::string out;
    for (const auto& line : lines()) out += line + "\n";
    return out;
  }

 private:
  fs::path file_;
  std::optional<std::string> before_;
  int saved_ = -1;
};

// This process's unix sockets that are connected (state 03 in /proc/net/unix): a connection
// made into a backlog, not yet accepted, is one.
int connected_unix_sockets() {
  std::set<std::string> inodes;
  for (const auto& entry : fs::directory_iterator("/proc/self/fd")) {
    std::error_code error;
    std::string target = fs::read_symlink(entry.path(), error).string();
    if (!error && target.rfind("socket:[", 0) == 0) inodes.insert(target.substr(8, target.size() - 9));
  }
  std::ifstream table("/proc/net/unix");
  std::string line;
  std::getline(table, line);  // the header
  int count = 0;
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string num, refs, protocol, flags, type, state, inode;
    if (fields >> num >> refs >> protocol >> flags >> type >> state >> inode && state == "03" && inodes.count(inode)) {
      ++count;
    }
  }
  return count;
}

const std::string kGone = " takes no connection now (the agent, or the ssh forwarding that carries its socket, went away)";
const std::string kUnmapped =
    " (is this account mapped to a consumer? the agent closes the connections of accounts that are not)";

}  // namespace

BOOST_FIXTURE_TEST_CASE(protected_path_and_consumer_pin, Fixture) {
  CK_TOKEN_INFO token{};
  BOOST_REQUIRE(module->C_GetTokenInfo(0, &token) == CKR_OK);
  BOOST_TEST((token.flags & CKF_PROTECTED_AUTHENTICATION_PATH) != 0u);
  BOOST_TEST((token.flags & CKF_LOGIN_REQUIRED) != 0u);

  // No PIN: the agent maps this process's uid to consumer "ci".
  CK_SESSION_HANDLE session = module.open_session("");
  EXPECT_RV(login(session, ""), CKR_OK);
  CK_OBJECT_HANDLE key = module.find_one(session, CKO_PRIVATE_KEY);
  BOOST_TEST(signs(session, key, "signed on the protected path"));
  BOOST_REQUIRE(module->C_Logout(session) == CKR_OK);
  EXPECT_RV(module->C_SignInit(session, &eddsa, key), CKR_USER_NOT_LOGGED_IN);

  // The consumer PIN, checked by the agent.
  std::string wrong = broker.pin();
  wrong.back() = wrong.back() == 'a' ? 'b' : 'a';
  EXPECT_RV(login(session, wrong), CKR_PIN_INCORRECT);
  EXPECT_RV(login(session, "nobody:" + broker.pin().substr(3)), CKR_PIN_INCORRECT);
  BOOST_REQUIRE(module->C_GetTokenInfo(0, &token) == CKR_OK);
  BOOST_TEST((token.flags & CKF_USER_PIN_COUNT_LOW) != 0u);
  EXPECT_RV(login(session, broker.pin()), CKR_OK);
  BOOST_TEST(signs(session, key, "signed with the consumer PIN"));

  // The agent wrote the signing log, naming the consumer and how it logged in.
  auto lines = ChainedLog(broker.broker_dir() / "signing-log.jsonl").read_lines();
  BOOST_REQUIRE(lines.size() == 2u);
  BOOST_TEST(!verify_chain(lines));
  auto peer = parse_record(lines[0]);
  auto with_pin = parse_record(lines[1]);
  BOOST_TEST(peer.at("consumer").as_string() == "ci");
  BOOST_TEST(peer.at("via").as_string() == "agent");
  BOOST_TEST(peer.at("login").as_string() == "peer");
  BOOST_TEST(with_pin.at("login").as_string() == "pin");
  BOOST_TEST(with_pin.at("result").as_string() == "ok");
}

BOOST_FIXTURE_TEST_CASE(agent_stopped_and_restarted, Fixture) {
  CK_SESSION_HANDLE session = module.open_session(broker.pin());
  CK_OBJECT_HANDLE key = module.find_one(session, CKO_PRIVATE_KEY);
  CK_OBJECT_HANDLE public_key = module.find_one(session, CKO_PUBLIC_KEY);
  BOOST_REQUIRE(signs(session, key, "before"));
  // An operation started before the agent went away.
  BOOST_REQUIRE(module->C_SignInit(session, &eddsa, key) == CKR_OK);

  broker.agent()->kill_now();
  CK_ULONG count = 9;
  BOOST_TEST(module->C_GetSlotList(CK_TRUE, nullptr, &count) == CKR_OK);
  BOOST_TEST(count == 0u);
  CK_TOKEN_INFO token{};
  EXPECT_RV(module->C_GetTokenInfo(0, &token), CKR_TOKEN_NOT_PRESENT);
  CK_SESSION_HANDLE other = CK_INVALID_HANDLE;
  EXPECT_RV(module->C_OpenSession(0, CKF_SERIAL_SESSION, nullptr, nullptr, &other), CKR_TOKEN_NOT_PRESENT);
  CK_BYTE message[] = "while the agent is down", signature[64];
  CK_ULONG length = sizeof signature;
  EXPECT_RV(module->C_Sign(session, message, sizeof message, signature, &length), CKR_DEVICE_REMOVED);
  EXPECT_RV(module->C_SignInit(session, &eddsa, key), CKR_DEVICE_REMOVED);
  EXPECT_RV(module->C_FindObjectsInit(session, nullptr, 0), CKR_DEVICE_REMOVED);
  CK_BYTE value[64];
  CK_ATTRIBUTE label{CKA_LABEL, value, sizeof value};
  EXPECT_RV(module->C_GetAttributeValue(session, public_key, &label, 1), CKR_DEVICE_REMOVED);
  CK_SESSION_HANDLE third = CK_INVALID_HANDLE;
  BOOST_TEST(module->C_OpenSession(1, CKF_SERIAL_SESSION, nullptr, nullptr, &third) == CKR_TOKEN_NOT_PRESENT);

  // Back: the same session signs again, its PIN login replayed on a new connection.
  broker.agent()->start();
  count = 0;
  BOOST_TEST(module->C_GetSlotList(CK_TRUE, nullptr, &count) == CKR_OK);
  BOOST_TEST(count == 1u);
  BOOST_TEST(signs(session, key, "after the restart"));
  // And a login made while the agent was down fails cleanly, then works once it is back.
  CK_SESSION_HANDLE fresh = module.open_session("", 0);
  BOOST_REQUIRE(module->C_Logout(session) == CKR_OK);
  broker.agent()->kill_now();
  EXPECT_RV(login(fresh, ""), CKR_DEVICE_REMOVED);
  broker.agent()->start();
  EXPECT_RV(login(fresh, ""), CKR_OK);
  BOOST_TEST(signs(fresh, key, "protected path after the restart"));
}

// The agent goes away under a request (stopped, its socket removed, then killed): the module
// logs the lost connection with its likely cause, that the socket takes no connection now.
// The calls after it in the same outage say once that they cannot connect, not at every call;
// the agent back, the next outage is said again.
BOOST_FIXTURE_TEST_CASE(agent_gone_under_a_request_is_logged_once_with_its_likely_cause, Fixture) {
  const std::string socket = broker.agent_socket().string();
  ModuleLog log(broker.dir() / "module.log");
  int before = connected_unix_sockets();
  BOOST_REQUIRE(::kill(broker.agent()->pid(), SIGSTOP) == 0);
  CK_RV rv = CKR_GENERAL_ERROR;
  CK_ULONG count = 9;
  std::thread caller([&] { rv = module->C_GetSlotList(CK_TRUE, nullptr, &count); });
  // The view's request is under way once its connection is made (the stopped agent's backlog
  // takes it), and it waits for an answer.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (connected_unix_sockets() == before && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  bool connected = connected_unix_sockets() > before;
  fs::remove(broker.agent_socket());
  broker.agent()->kill_now();
  caller.join();
  BOOST_REQUIRE_MESSAGE(connected, "the module made no connection to the stopped agent");
  EXPECT_RV(rv, CKR_OK);
  BOOST_TEST(count == 0u);
  const std::string lost = "brokerkey-pkcs11: brokerkey-agent: the connection was closed by the other end (" + socket +
                           "), and " + socket + kGone;
  BOOST_TEST(log.count(lost) == 1, log.text());

  const std::string missing = "brokerkey-pkcs11: brokerkey-agent: cannot connect to " + socket + ": No such file or directory (is brokerkey-agent running, or the ssh forwarding that carries its socket? the "
                              "agent removes its socket when it stops)";
  CK_TOKEN_INFO token{};
  for (int call = 0; call < 3; ++call) {
    BOOST_TEST(module->C_GetSlotList(CK_TRUE, nullptr, &count) == CKR_OK);
    EXPECT_RV(module->C_GetTokenInfo(0, &token), CKR_TOKEN_NOT_PRESENT);
  }
  BOOST_TEST(log.count(missing) == 1, log.text());
  BOOST_TEST(log.lines().size() == 2u, log.text());

  // Back; then killed, its socket left behind: that outage is said, once.
  broker.agent()->start();
  BOOST_TEST(module->C_GetSlotList(CK_TRUE, nullptr, &count) == CKR_OK);
  BOOST_TEST(count == 1u);
  broker.agent()->kill_now();
  for (int call = 0; call < 3; ++call) {
    EXPECT_RV(module->C_GetTokenInfo(0, &token), CKR_TOKEN_NOT_PRESENT);
  }
  BOOST_TEST(log.count("brokerkey-pkcs11: brokerkey-agent: cannot connect to " + socket + ": Connection refused (nothing listens on it: the agent, or the ssh forwarding that carries "
                       "its socket, ended and left it behind)") == 1,
             log.text());
  BOOST_TEST(log.lines().size() == 3u, log.text());
}

// The agent closes the connections of an account it maps to no consumer as it accepts them:
// the module logs that likely cause, once, whether a signature, a view or a login meets it.
BOOST_FIXTURE_TEST_CASE(unmapped_account_is_logged_once_with_its_likely_cause, Fixture) {
  CK_SESSION_HANDLE session = module.open_session("");
  BOOST_REQUIRE(login(session, "") == CKR_OK);
  CK_OBJECT_HANDLE key = module.find_one(session, CKO_PRIVATE_KEY);
  BOOST_REQUIRE(signs(session, key, "while mapped"));
  BOOST_REQUIRE(module->C_SignInit(session, &eddsa, key) == CKR_OK);
  broker.keytool("consumer remove ci");
  // Restarted too, so the module's idle connections are stale: the signature is tried again on
  // a new connection, which the agent closes.
  broker.agent()->kill_now();
  broker.agent()->start();
  ModuleLog log(broker.dir() / "module.log");
  CK_BYTE message[] = "unmapped", signature[64];
  CK_ULONG length = sizeof signature;
  EXPECT_RV(module->C_Sign(session, message, sizeof message, signature, &length), CKR_DEVICE_REMOVED);
  const std::string socket = broker.agent_socket().string();
  const std::string line =
      "brokerkey-pkcs11: brokerkey-agent: the connection was closed by the other end (" + socket + ")" + kUnmapped;
  BOOST_TEST(log.count(line) == 1, log.text());

  CK_ULONG count = 9;
  for (int call = 0; call < 3; ++call) {
    BOOST_TEST(module->C_GetSlotList(CK_TRUE, nullptr, &count) == CKR_OK);
    BOOST_TEST(count == 0u);
  }
  BOOST_REQUIRE(module->C_Logout(session) == CKR_OK);
  EXPECT_RV(login(session, ""), CKR_DEVICE_REMOVED);
  BOOST_TEST(log.count(line) == 1, log.text());
  BOOST_TEST(log.lines().size() == 1u, log.text());
  // The agent's own log says why, for the operator.
  BOOST_TEST(broker.agent()->log_text().find("maps to no consumer") != std::string::npos);
}

// A sign request carries the whole message and the agent reads frames of at most 256 KiB:
// a longer message is CKR_DATA_LEN_RANGE before anything is sent, a long one that fits signs.
BOOST_FIXTURE_TEST_CASE(messages_up_to_the_agents_frame_bound, Fixture) {
  CK_SESSION_HANDLE session = module.open_session("");
  BOOST_REQUIRE(login(session, "") == CKR_OK);
  CK_OBJECT_HANDLE key = module.find_one(session, CKO_PRIVATE_KEY);
  BOOST_TEST(signs(session, key, std::string(200 * 1024, 'x')));
  Bytes signature;
  EXPECT_RV(sign(session, key, std::string(256 * 1024, 'x'), signature), CKR_DATA_LEN_RANGE);
  // The same through C_SignUpdate: the bound applies to the whole message at C_SignFinal.
  BOOST_REQUIRE(module->C_SignInit(session, &eddsa, key) == CKR_OK);
  Bytes part(128 * 1024, 'y');
  BOOST_REQUIRE(module->C_SignUpdate(session, part.data(), part.size()) == CKR_OK);
  BOOST_REQUIRE(module->C_SignUpdate(session, part.data(), part.size()) == CKR_OK);
  CK_BYTE out[64];
  CK_ULONG length = sizeof out;
  EXPECT_RV(module->C_SignFinal(session, out, &length), CKR_DATA_LEN_RANGE);
  // The connection is still good.
  BOOST_TEST(signs(session, key, "short again"));
}

// The agent closes a connection idle for --idle-timeout seconds: the module's pooled
// connections (the view's and the logged-in slot's) are then stale, and the next call replaces
// them at once, replaying the login, without an error reaching the caller.
BOOST_FIXTURE_TEST_CASE(idle_connections_closed_by_the_agent_are_replaced, Fixture) {
  broker.agent()->kill_now();
  AgentProcess agent(broker.conf(), broker.agent_socket(), broker.agent_log(), {"--idle-timeout", "1"});
  agent.start();
  CK_SESSION_HANDLE session = module.open_session("");
  BOOST_REQUIRE(login(session, "") == CKR_OK);
  CK_OBJECT_HANDLE key = module.find_one(session, CKO_PRIVATE_KEY);
  for (int round = 0; round < 3; ++round) {
    BOOST_TEST(signs(session, key, "round " + std::to_string(round)));
    std::this_thread::sleep_for(std::chrono::milliseconds(1600));
  }
  CK_ULONG count = 0;
  BOOST_TEST(module->C_GetSlotList(CK_TRUE, nullptr, &count) == CKR_OK);
  BOOST_TEST(count == 1u);
}

BOOST_FIXTURE_TEST_CASE(refusals_rotation_and_revocation, Fixture) {
  CK_SESSION_HANDLE session = module.open_session("");
  BOOST_REQUIRE(login(session, "") == CKR_OK);
  CK_OBJECT_HANDLE key = module.find_one(session, CKO_PRIVATE_KEY);
  Bytes signature;

  // The agent refuses a purpose the consumer is not granted: the key is still shown.
  broker.keytool("consumer set ci --allow sshsig:git");
  EXPECT_RV(sign(session, key, "raw data", signature), CKR_FUNCTION_REJECTED);
  broker.keytool("consumer set ci --allow sshsig:*,cms,ssh-auth,raw");
  BOOST_TEST(signs(session, key, "raw data, granted again"));

  // A rotation is seen at the next call: a new key in slot 0, the old one in slot 1.
  CK_TOKEN_INFO before{}, after{};
  BOOST_REQUIRE(module->C_GetTokenInfo(0, &before) == CKR_OK);
  std::string old_fingerprint = broker.fingerprint();
  broker.keytool("rotate");
  BOOST_REQUIRE(module->C_GetTokenInfo(0, &after) == CKR_OK);
  BOOST_TEST(std::string(reinterpret_cast<char*>(after.serialNumber), 16) !=
             std::string(reinterpret_cast<char*>(before.serialNumber), 16));
  CK_ULONG count = 0;
  BOOST_REQUIRE(module->C_GetSlotList(CK_TRUE, nullptr, &count) == CKR_OK);
  BOOST_TEST(count == 2u);
  CK_OBJECT_HANDLE new_key = module.find_one(session, CKO_PRIVATE_KEY);
  BOOST_TEST(new_key != key);
  // The old private key is no longer shown; the new one signs.
  EXPECT_RV(module->C_SignInit(session, &eddsa, key), CKR_KEY_HANDLE_INVALID);
  BOOST_TEST(signs(session, new_key, "with the new key"));

  // Revoked between C_SignInit and C_Sign: CKR_FUNCTION_REJECTED, as in embedded mode.
  BOOST_REQUIRE(module->C_SignInit(session, &eddsa, new_key) == CKR_OK);
  broker.keytool("revoke " + broker.fingerprint() + " --reason test");
  CK_BYTE message[] = "after the revocation", out[64];
  CK_ULONG length = sizeof out;
  BOOST_TEST(rv_text(module->C_Sign(session, message, sizeof message, out, &length)) == rv_text(CKR_FUNCTION_REJECTED));
  EXPECT_RV(module->C_GetTokenInfo(0, &after), CKR_TOKEN_NOT_PRESENT);
  BOOST_REQUIRE(module->C_GetTokenInfo(1, &after) == CKR_OK);  // the old key, still verifiable
  BOOST_TEST(std::string(reinterpret_cast<char*>(after.serialNumber), 16) == old_fingerprint.substr(0, 16));
}

// Unix-domain and other sockets this process holds open.
int open_sockets() {
  int count = 0;
  for (const auto& entry : fs::directory_iterator("/proc/self/fd")) {
    std::error_code error;
    fs::path target = fs::read_symlink(entry.path(), error);
    if (!error && target.string().rfind("socket:", 0) == 0) ++count;
  }
  return count;
}

// A process that signs once uses one connection: C_Login logs in the connection the views
// went over, and later views share the logged-in one. Views the agent answers "unchanged"
// (its view still has the tag of the module's last one) still show a rotation at the very
// next call.
BOOST_FIXTURE_TEST_CASE(one_connection_and_unchanged_views_until_a_rotation, Fixture) {
  CK_SESSION_HANDLE session = module.open_session("");
  int after_first_view = open_sockets();
  BOOST_REQUIRE(login(session, "") == CKR_OK);
  CK_OBJECT_HANDLE key = module.find_one(session, CKO_PRIVATE_KEY);
  BOOST_TEST(signs(session, key, "on the connection the views used"));
  CK_TOKEN_INFO token{};
  std::string serial;
  for (int call = 0; call < 3; ++call) {
    BOOST_REQUIRE(module->C_GetTokenInfo(0, &token) == CKR_OK);
    std::string now_serial(reinterpret_cast<char*>(token.serialNumber), 16);
    if (call > 0) BOOST_TEST(now_serial == serial);
    serial = now_serial;
  }
  BOOST_TEST(open_sockets() == after_first_view);

  broker.keytool("rotate");
  BOOST_REQUIRE(module->C_GetTokenInfo(0, &token) == CKR_OK);
  BOOST_TEST(std::string(reinterpret_cast<char*>(token.serialNumber), 16) != serial);
  EXPECT_RV(module->C_SignInit(session, &eddsa, key), CKR_KEY_HANDLE_INVALID);
  CK_OBJECT_HANDLE new_key = module.find_one(session, CKO_PRIVATE_KEY);
  BOOST_TEST(new_key != key);
  BOOST_TEST(signs(session, new_key, "with the new key, on the same connection"));
  BOOST_TEST(open_sockets() == after_first_view);
  // Logged out, the slot's connections are closed; views open a new, plain one.
  BOOST_REQUIRE(module->C_Logout(session) == CKR_OK);
  BOOST_REQUIRE(module->C_GetTokenInfo(0, &token) == CKR_OK);
  BOOST_TEST(open_sockets() == after_first_view);
  BOOST_REQUIRE(login(session, "") == CKR_OK);
  BOOST_TEST(signs(session, new_key, "logged in again"));
  BOOST_TEST(open_sockets() == after_first_view);
}

// After fork() the child sees CKR_CRYPTOKI_NOT_INITIALIZED, then initialises and signs on its
// own connections while the parent signs on its own at the same time: a shared connection
// would interleave the two processes' requests and answers.
BOOST_FIXTURE_TEST_CASE(forked_child_uses_its_own_connections, Fixture) {
  CK_SESSION_HANDLE parent_session = module.open_session(broker.pin());
  CK_OBJECT_HANDLE key = module.find_one(parent_session, CKO_PRIVATE_KEY);
  BOOST_REQUIRE(signs(parent_session, key, "before the fork"));
  PublicKey public_key = current_key();
  pid_t pid = ::fork();
  if (pid == 0) {
    // No Boost.Test macros here: report through the exit status.
    CK_FUNCTION_LIST* f = module.fn();
    CK_ULONG count = 0;
    if (f->C_GetSlotList(CK_TRUE, nullptr, &count) != CKR_CRYPTOKI_NOT_INITIALIZED) ::_exit(10);
    if (f->C_SignInit(parent_session, &eddsa, key) != CKR_CRYPTOKI_NOT_INITIALIZED) ::_exit(11);
    CK_SESSION_HANDLE session = 0;
    CK_OBJECT_HANDLE child_key = 0;
    if (int step = initialize_in_child(f, "", session, child_key)) ::_exit(step);  // protected path
    for (int i = 0; i < 50; ++i) {
      std::string message = "from the child " + std::to_string(i);
      CK_BYTE signature[64];
      CK_ULONG length = sizeof signature;
      if (f->C_SignInit(session, &eddsa, child_key) != CKR_OK ||
          f->C_Sign(session, reinterpret_cast<CK_BYTE_PTR>(message.data()), message.size(), signature, &length) != CKR_OK) {
        ::_exit(16);
      }
      if (!ed25519_verify(public_key, as_bytes(message), ByteView(signature, 64))) ::_exit(17);
    }
    if (f->C_Finalize(nullptr) != CKR_OK) ::_exit(18);
    ::_exit(0);
  }
  int good = 0;
  for (int i = 0; i < 50; ++i) {
    std::string message = "from the parent " + std::to_string(i);
    Bytes signature;
    if (sign(parent_session, key, message, signature) == CKR_OK && ed25519_verify(public_key, as_bytes(message), signature)) {
      ++good;
    }
  }
  check_child_succeeded(pid);
  BOOST_TEST(good == 50);
  BOOST_TEST(signs(parent_session, key, "after the child"));
}
