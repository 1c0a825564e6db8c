#include "temp_broker.h"

#include <dlfcn.h>
#include <stdio.h>
#include <sys/wait.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>

#include <unistd.h>

#include <fstream>

#include "agent_client.h"
#include "core/config.h"
#include "core/error.h"

CommandResult run_command(const std::string& command_line) {
  CommandResult result;
  FILE* pipe = ::popen((command_line + " 2>&1").c_str(), "r");
  if (!pipe) return result;
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
  int status = ::pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string rv_text(CK_RV rv) { return brokerkey::rv_name(rv); }

bool client_mode() {
  const char* mode = std::getenv("BROKERKEY_TEST_MODULE_MODE");
  return mode && std::string_view(mode) == "client";
}

TempBroker::TempBroker(With with) {
  keytool("init --dir " + broker_dir().string() + " --service acme --purpose git-signing --env prod");
  ::setenv("BROKERKEY_CONF", conf().c_str(), 1);
  if (with == With::nothing) return;
  keytool("mint");
  if (with == With::key) return;
  std::string added = keytool("consumer add ci");
  std::size_t at = added.find("ci:");
  BOOST_REQUIRE(at != std::string::npos);
  pin_ = added.substr(at, added.find('\n', at) - at);
  if (!client_mode()) return;
  // Every purpose (pkcs11-tool and the tests sign raw data) at a rate no test reaches.
  keytool("consumer set ci --uid " + std::to_string(::getuid()) +
          " --allow sshsig:*,cms,ssh-auth,raw --rate 1000000/1s");
  fs::create_directory(dir() / "run");
  fs::permissions(dir() / "run", fs::perms::owner_all);
  agent_ = std::make_unique<AgentProcess>(conf(), agent_socket(), agent_log());
  agent_->start();
  fs::create_directory(dir() / "client");
  std::ofstream(client_conf()) << brokerkey::client_config_text(agent_socket(), brokerkey::load_config(conf()).token_label);
  ::setenv("BROKERKEY_CONF", client_conf().c_str(), 1);
}

TempBroker::~TempBroker() {
  agent_.reset();
  ::unsetenv("BROKERKEY_CONF");
}

std::string TempBroker::keytool(const std::string& args, int status) const {
  // In client mode BROKERKEY_CONF names the client configuration; the keytool administers
  // the broker itself.
  std::string env = client_mode() ? "BROKERKEY_CONF='" + conf().string() + "' " : "";
  CommandResult result = run_command(env + std::string(BROKERKEY_TOOL) + " " + args);
  BOOST_REQUIRE_MESSAGE(result.status == status, "brokerkey " << args << " exited "
                                                               << result.status << ": " << result.output);
  return result.output;
}

std::string TempBroker::fingerprint() const {
  std::string out = keytool("pubkey --format fingerprint");
  return out.substr(0, 64);
}

CommandResult TempBroker::backend_tool(const std::string& args) const {
  return run_command("SOFTHSM2_CONF=" + (broker_dir() / "softhsm2.conf").string() +
                     " pkcs11-tool --module /usr/lib/softhsm/libsofthsm2.so --token-label "
                     "brokerkey-store --login --pin \"$(cat " + (broker_dir() / "backend.pin").string() +
                     ")\" " + args);
}

LoadedModule::LoadedModule(bool initialize) {
  handle_ = ::dlopen(BROKERKEY_MODULE_PATH, RTLD_NOW | RTLD_LOCAL);
  BOOST_REQUIRE_MESSAGE(handle_, ::dlerror());
  auto get_list = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(handle_, "C_GetFunctionList"));
  BOOST_REQUIRE(get_list);
  BOOST_REQUIRE(get_list(&fn_) == CKR_OK);
  if (initialize) {
    CK_C_INITIALIZE_ARGS args{};
    args.flags = CKF_OS_LOCKING_OK;
    CK_RV rv = fn_->C_Initialize(&args);
    BOOST_REQUIRE_MESSAGE(rv == CKR_OK, "C_Initialize: " << rv_text(rv));
    initialized_ = true;
  }
}

LoadedModule::~LoadedModule() {
  if (initialized_) fn_->C_Finalize(nullptr);  // may already be finalised by the test
  ::dlclose(handle_);
}

CK_SESSION_HANDLE LoadedModule::open_session(const std::string& pin, CK_SLOT_ID slot) const {
  CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
  CK_RV rv = fn_->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &session);
  BOOST_REQUIRE_MESSAGE(rv == CKR_OK, "C_OpenSession: " << rv_text(rv));
  if (!pin.empty()) {
    rv = fn_->C_Login(session, CKU_USER, reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(pin.data())),
                      pin.size());
    BOOST_REQUIRE_MESSAGE(rv == CKR_OK, "C_Login: " << rv_text(rv));
  }
  return session;
}

std::vector<CK_OBJECT_HANDLE> LoadedModule::find_all(CK_SESSION_HANDLE session, CK_OBJECT_CLASS object_class) const {
  CK_ATTRIBUTE match{CKA_CLASS, &object_class, sizeof object_class};
  BOOST_REQUIRE(fn_->C_FindObjectsInit(session, &match, 1) == CKR_OK);
  CK_OBJECT_HANDLE found[4];
  CK_ULONG count = 9;
  BOOST_REQUIRE(fn_->C_FindObjects(session, found, 4, &count) == CKR_OK);
  BOOST_REQUIRE(fn_->C_FindObjectsFinal(session) == CKR_OK);
  BOOST_REQUIRE(count <= 4);
  return {found, found + count};
}

CK_OBJECT_HANDLE LoadedModule::find_one(CK_SESSION_HANDLE session, CK_OBJECT_CLASS object_class) const {
  auto found = find_all(session, object_class);
  BOOST_REQUIRE_MESSAGE(found.size() == 1, "found " << found.size() << " objects of class " << object_class);
  return found[0];
}

int initialize_in_child(CK_FUNCTION_LIST* f, const std::string& pin, CK_SESSION_HANDLE& session,
                        CK_OBJECT_HANDLE& private_key) {
  if (f->C_Initialize(nullptr) != CKR_OK) return 12;
  if (f->C_OpenSession(0, CKF_SERIAL_SESSION, nullptr, nullptr, &session) != CKR_OK) return 13;
  CK_UTF8CHAR_PTR pin_bytes =
      pin.empty() ? nullptr : reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(pin.data()));
  if (f->C_Login(session, CKU_USER, pin_bytes, pin.size()) != CKR_OK) return 14;
  CK_OBJECT_CLASS private_class = CKO_PRIVATE_KEY;
  CK_ATTRIBUTE match{CKA_CLASS, &private_class, sizeof private_class};
  CK_ULONG count = 0;
  if (f->C_FindObjectsInit(session, &match, 1) != CKR_OK ||
      f->C_FindObjects(session, &private_key, 1, &count) != CKR_OK || count != 1 ||
      f->C_FindObjectsFinal(session) != CKR_OK) {
    return 15;
  }
  return 0;
}

void check_child_succeeded(pid_t pid) {
  int status = -1;
  BOOST_REQUIRE(::waitpid(pid, &status, 0) == pid);
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 0, "the child failed at step " << WEXITSTATUS(status));
}
