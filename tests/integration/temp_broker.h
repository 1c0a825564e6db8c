// Integration test support: a real broker on a real SoftHSM token in a temporary directory,
// made by the real keytool, and the built module loaded with dlopen as clients load it.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/pkcs11.h"
#include "temp_dir.h"

namespace fs = std::filesystem;

struct CommandResult {
  int status = -1;
  std::string output;  // stdout and stderr together
};

// Runs a shell command line; returns its exit status and output.
CommandResult run_command(const std::string& command_line);

class AgentProcess;

// Whether the module tests run in client mode: BROKERKEY_TEST_MODULE_MODE=client (set by
// tests/CMakeLists.txt for the second registration of each module test; read by test code
// only). A TempBroker then also starts brokerkey-agent on its broker, maps consumer "ci" to
// this process's uid, and points BROKERKEY_CONF at a client configuration naming the agent's
// socket, so the module under test reads no broker file.
bool client_mode();

class TempBroker {
 public:
  enum class With { nothing, key, key_and_consumer };
  explicit TempBroker(With with = With::key_and_consumer);
  TempBroker(const TempBroker&) = delete;
  TempBroker& operator=(const TempBroker&) = delete;
  ~TempBroker();

  // Scratch space for the test; the broker itself is in broker_dir().
  const fs::path& dir() const { return dir_.path(); }
  fs::path broker_dir() const { return dir() / "broker"; }
  fs::path conf() const { return broker_dir() / "brokerkey.conf"; }
  const std::string& pin() const { return pin_; }  // the consumer "ci"'s PIN
  // Runs `brokerkey ARGS` against this broker; fails the test unless it exits with `status`.
  std::string keytool(const std::string& args, int status = 0) const;
  std::string fingerprint() const;
  // Runs pkcs11-tool ARGS directly on the backend token (SoftHSM), logged in with the
  // backend PIN: what the backend really holds, bypassing the module.
  CommandResult backend_tool(const std::string& args) const;

  // Client mode only (else nullptr / empty): the agent, its socket, its log, and the client
  // configuration BROKERKEY_CONF names.
  AgentProcess* agent() const { return agent_.get(); }
  fs::path agent_socket() const { return dir() / "run" / "agent.sock"; }
  fs::path agent_log() const { return dir() / "agent.log"; }
  fs::path client_conf() const { return dir() / "client" / "brokerkey.conf"; }

 private:
  TempDir dir_;
  std::string pin_;
  std::unique_ptr<AgentProcess> agent_;  // destroyed (killed) before dir_ is removed
};

// The built module, loaded and initialised; finalised and unloaded at the end.
class LoadedModule {
 public:
  explicit LoadedModule(bool initialize = true);
  LoadedModule(const LoadedModule&) = delete;
  LoadedModule& operator=(const LoadedModule&) = delete;
  ~LoadedModule();
  CK_FUNCTION_LIST* operator->() const { return fn_; }
  CK_FUNCTION_LIST* fn() const { return fn_; }

  // A session on slot 0, logged in with `pin` unless it is empty.
  CK_SESSION_HANDLE open_session(const std::string& pin, CK_SLOT_ID slot = 0) const;
  // Every object of `object_class` the session finds (at most 4).
  std::vector<CK_OBJECT_HANDLE> find_all(CK_SESSION_HANDLE session, CK_OBJECT_CLASS object_class) const;
  // The one object of `object_class` the session finds; fails the test otherwise.
  CK_OBJECT_HANDLE find_one(CK_SESSION_HANDLE session, CK_OBJECT_CLASS object_class) const;

 private:
  void* handle_ = nullptr;
  CK_FUNCTION_LIST* fn_ = nullptr;
  bool initialized_ = false;
};

std::string rv_text(CK_RV rv);

// The fork tests' child, where Boost.Test cannot report: C_Initialize again, a session on slot 0
// logged in with `pin` (empty: the protected path, a NULL PIN), and the one private key that
// session finds. Returns 0, or the step that failed (12 C_Initialize, 13 C_OpenSession,
// 14 C_Login, 15 the search) for the child's exit status.
int initialize_in_child(CK_FUNCTION_LIST* f, const std::string& pin, CK_SESSION_HANDLE& session,
                        CK_OBJECT_HANDLE& private_key);
// Waits for a forked child and checks that it exited 0, else names the step it failed at.
void check_child_succeeded(pid_t pid);

// Where most module tests start: a broker with its key and consumer "ci", the module loaded,
// a session logged in as that consumer, and the key's two objects.
struct LoggedInBroker {
  TempBroker broker;
  LoadedModule module;
  CK_SESSION_HANDLE session = module.open_session(broker.pin());
  CK_OBJECT_HANDLE private_key = module.find_one(session, CKO_PRIVATE_KEY);
  CK_OBJECT_HANDLE public_key = module.find_one(session, CKO_PUBLIC_KEY);
  CK_MECHANISM eddsa{CKM_EDDSA, nullptr, 0};
};
