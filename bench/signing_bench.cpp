// brokerkey-bench: signing through the module or through brokerkey-agent against signing on
// the backend directly, same key, same data (what git signs: SSHSIG data, namespace git).
// Prints rates; bench/run.sh runs the modes side by side and prints the ratios. A benchmark,
// not a test: it asserts nothing about speed.
//
//   brokerkey-bench rate module|backend|agent THREADS SECONDS   signatures per second
//       (agent: each thread a client with its own connection to $SSH_AUTH_SOCK)
//   brokerkey-bench cold module|backend                   one process: initialise + 1 signature
//       (as a PKCS#11 client: load by path, C_Initialize, the token's slot by label, a session,
//       C_Login, the key by class and CKA_ID, one C_Sign; BENCH_PHASES=1 prints each step's
//       wall time in microseconds on stderr)
//   brokerkey-bench ledger RECORDS                        ledger verification rate
#include <dlfcn.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <atomic>
#include <cstring>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/backend_module.h"
#include "core/chained_log.h"
#include "core/config.h"
#include "core/files.h"
#include "core/ledger.h"
#include "core/sshsig.h"
#include "core/unique_fd.h"
#include "core/agent_protocol.h"
#include "core/agent_wire.h"

namespace {

using namespace brokerkey;
using Clock = std::chrono::steady_clock;

// One signer: a loaded module, a logged-in session per thread, the key's handle.
struct Target {
  std::unique_ptr<BackendModule> module;
  std::string pin;
  Bytes key_id;
  CK_SLOT_ID slot = 0;
};

// The key's CKA_ID: $BENCH_KEY_ID (its fingerprint in hex, which bench/run.sh passes so that a
// cold process reads no ledger and a client configuration, which names none, works), else
// the ledger's current key.
Bytes key_id() {
  Fingerprint fingerprint;
  if (const char* hex = std::getenv("BENCH_KEY_ID"); hex && *hex) {
    fingerprint = Fingerprint::from_hex(hex);
  } else {
    Config config = load_config(locate_config());
    LedgerState state = Ledger(config.ledger).state();
    const KeyRecord* current = state.current(now());
    if (!current) throw std::runtime_error("no current key");
    fingerprint = current->fingerprint;
  }
  return Bytes(fingerprint.bytes.begin(), fingerprint.bytes.end());
}

// Where a signer's module is and how it logs in. "module": brokerkey's module at
// $BROKERKEY_MODULE, which reads its own configuration ($BROKERKEY_CONF: embedded or client
// mode), logged in with $BENCH_CONSUMER_PIN, or with no PIN when that is empty (the protected
// authentication path of client mode). "backend": the broker's SoftHSM token, with its PIN.
struct TargetSpec {
  std::string path;
  std::map<std::string, std::string> env;
  std::string token_label;
  std::string pin;
  Bytes key_id;
};

TargetSpec target_spec(const std::string& which) {
  TargetSpec spec;
  if (which == "module") {
    const char* module = std::getenv("BROKERKEY_MODULE");
    if (!module) throw std::runtime_error("BROKERKEY_MODULE is not set");
    spec.path = module;
    const char* label = std::getenv("BENCH_TOKEN_LABEL");
    spec.token_label = label && *label ? label : "brokerkey";
    const char* pin = std::getenv("BENCH_CONSUMER_PIN");
    spec.pin = pin ? pin : "";
  } else if (which == "backend") {
    Config config = load_config(locate_config());
    spec.path = config.backend.module.string();
    spec.env = config.backend.env;
    spec.token_label = config.backend.token_label;
    spec.pin = read_secret_file(config.backend.pin_file).view();
  } else {
    throw std::runtime_error("no target " + which + " (module or backend)");
  }
  spec.key_id = key_id();
  return spec;
}

Target open_target(const std::string& which) {
  TargetSpec spec = target_spec(which);
  Target target;
  target.key_id = spec.key_id;
  target.pin = spec.pin;
  // Each loaded by its path, as a PKCS#11 client (ssh, p11-kit, pkcs11-tool) loads a module:
  // not as brokerkey loads its backend (a private in-memory copy, which the module's own
  // C_Initialize does for SoftHSM and which is part of what is measured).
  target.module = std::make_unique<BackendModule>(spec.path, spec.env, which == "module" ? "brokerkey" : "SoftHSM");
  target.slot = target.module->slot_of_token(spec.token_label);
  return target;
}

struct Signer {
  CK_FUNCTION_LIST* f;
  CK_SESSION_HANDLE session = 0;
  CK_OBJECT_HANDLE key = 0;

  explicit Signer(const Target& target) : f(target.module->fn()) {
    check_backend(f->C_OpenSession(target.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &session), "C_OpenSession");
    CK_RV rv = log_in(f, session, CKU_USER, target.pin);
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) check_backend(rv, "C_Login");
    CK_OBJECT_CLASS private_class = CKO_PRIVATE_KEY;
    Bytes id = target.key_id;
    auto keys = find_objects(f, session, {{CKA_CLASS, &private_class, sizeof private_class}, {CKA_ID, id.data(), id.size()}});
    if (keys.size() != 1) throw std::runtime_error("key not found");
    key = keys[0];
  }
  void sign_once(Bytes& message) {
    CK_MECHANISM eddsa{CKM_EDDSA, nullptr, 0};
    CK_BYTE signature[64];
    CK_ULONG length = sizeof signature;
    check_backend(f->C_SignInit(session, &eddsa, key), "C_SignInit");
    check_backend(f->C_Sign(session, message.data(), message.size(), signature, &length), "C_Sign");
  }
};

// A client of brokerkey-agent as ssh-keygen is one: its own connection, the key from
// SSH_AGENTC_REQUEST_IDENTITIES, then one SSH_AGENTC_SIGN_REQUEST at a time.
class AgentClient {
 public:
  explicit AgentClient(const std::string& socket_path) : fd_(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (!fd_ || socket_path.size() >= sizeof address.sun_path) throw std::runtime_error("bad agent socket");
    std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);
    if (::connect(fd_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      throw std::runtime_error("cannot connect to " + socket_path + ": " + std::strerror(errno));
    }
    Bytes answer = call({agent::SSH_AGENTC_REQUEST_IDENTITIES});
    agent::WireReader in(answer);
    if (in.byte() != agent::SSH_AGENT_IDENTITIES_ANSWER || in.u32() == 0) {
      throw std::runtime_error("the agent lists no key for this client");
    }
    ByteView key = in.string();
    key_blob_.assign(key.begin(), key.end());
  }

  void sign_once(const Bytes& data) {
    agent::WireWriter request;
    request.byte(agent::SSH_AGENTC_SIGN_REQUEST).string(key_blob_).string(data).u32(0);
    Bytes answer = call(request.bytes());
    if (answer.empty() || answer[0] != agent::SSH_AGENT_SIGN_RESPONSE) {
      throw std::runtime_error("the agent refused a signature (see its log)");
    }
  }

 private:
  Bytes call(const Bytes& body) {
    Bytes frame = agent::framed(body);
    for (std::size_t done = 0; done < frame.size();) {
      ssize_t n = ::send(fd_.get(), frame.data() + done, frame.size() - done, MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("agent connection lost while sending");
      done += static_cast<std::size_t>(n);
    }
    std::uint8_t header[4];
    receive(header);
    Bytes answer(agent::WireReader(header).u32());
    if (answer.empty() || answer.size() > agent::kMaxFrameLength) throw std::runtime_error("bad agent frame");
    receive(answer);
    return answer;
  }
  void receive(std::span<std::uint8_t> out) {
    for (std::size_t done = 0; done < out.size();) {
      ssize_t n = ::recv(fd_.get(), out.data() + done, out.size() - done, 0);
      if (n <= 0) throw std::runtime_error("agent connection lost while receiving");
      done += static_cast<std::size_t>(n);
    }
  }

  UniqueFd fd_;
  Bytes key_blob_;
};

// What git asks to be signed for a commit: SSHSIG data, namespace git, SHA-512 of the commit.
Bytes git_signed_data(int i) { return sshsig_signed_data("git", Bytes(256, static_cast<std::uint8_t>(i))); }

// The same shape around a fixed 64-byte digest, built without hashing: a cold process's start
// of OpenSSL is part of what is measured, so it must be the module's or SoftHSM's, never the
// bench's. brokerkey-agent classifies it as git's (SSHSIG, namespace git), which its
// consumer is granted.
Bytes git_shaped_data() {
  agent::WireWriter fields;
  fields.string(std::string_view("git")).string(std::string_view("")).string(std::string_view("sha512"));
  fields.string(Bytes(64, 1));
  Bytes out{'S', 'S', 'H', 'S', 'I', 'G'};
  Bytes rest = fields.bytes();
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

// N threads signing as fast as they can for `seconds`, each with its own signer; signatures/s.
template <typename Signer>
double measure(std::vector<std::unique_ptr<Signer>>& signers, double seconds) {
  std::atomic<long> total{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  auto start = Clock::now();
  for (std::size_t i = 0; i < signers.size(); ++i) {
    workers.emplace_back([&, i] {
      Bytes message = git_signed_data(static_cast<int>(i));
      long n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        signers[i]->sign_once(message);
        ++n;
      }
      total += n;
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& w : workers) w.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  return static_cast<double>(total.load()) / elapsed;
}

int rate(const std::string& which, int threads, double seconds) {
  double per_second = 0;
  if (which == "agent") {
    const char* socket_path = std::getenv("SSH_AUTH_SOCK");
    if (!socket_path) throw std::runtime_error("SSH_AUTH_SOCK is not set");
    std::vector<std::unique_ptr<AgentClient>> clients;
    for (int i = 0; i < threads; ++i) clients.push_back(std::make_unique<AgentClient>(socket_path));
    per_second = measure(clients, seconds);
  } else {
    Target target = open_target(which);
    std::vector<std::unique_ptr<Signer>> signers;
    for (int i = 0; i < threads; ++i) signers.push_back(std::make_unique<Signer>(target));
    per_second = measure(signers, seconds);
  }
  std::printf("%.1f\n", per_second);
  return 0;
}

// Wall time of each step of a cold process, printed on stderr when BENCH_PHASES is set.
class Phases {
 public:
  Phases() : enabled_(std::getenv("BENCH_PHASES") != nullptr), last_(Clock::now()) {}
  void mark(const char* step) {
    if (!enabled_) return;
    auto at = Clock::now();
    line_ += std::string(line_.empty() ? "" : " ") + step + "=" +
             std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(at - last_).count());
    last_ = at;
  }
  ~Phases() {
    if (enabled_) std::fprintf(stderr, "%s\n", line_.c_str());
  }

 private:
  bool enabled_;
  Clock::time_point last_;
  std::string line_;
};

// One cold process's whole use of a module, step by step as a PKCS#11 client makes it. The
// bench's own set-up (its configuration, the PIN file) comes first and is shown as "setup".
int cold(const std::string& which) {
  Phases phases;
  TargetSpec spec = target_spec(which);
  std::string_view module_name = which == "module" ? "brokerkey module" : "backend";
  auto check = [&](CK_RV rv, const char* call) { check_backend(rv, call, module_name); };
  for (const auto& [name, value] : spec.env) ::setenv(name.c_str(), value.c_str(), 1);
  phases.mark("setup");
  void* handle = ::dlopen(spec.path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) throw std::runtime_error(std::string("dlopen: ") + ::dlerror());
  auto get_list = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(handle, "C_GetFunctionList"));
  if (!get_list) throw std::runtime_error("no C_GetFunctionList");
  CK_FUNCTION_LIST* f = nullptr;
  check(get_list(&f), "C_GetFunctionList");
  phases.mark("dlopen");
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  check(f->C_Initialize(&args), "C_Initialize");
  phases.mark("initialize");
  CK_ULONG count = 0;
  check(f->C_GetSlotList(CK_TRUE, nullptr, &count), "C_GetSlotList");
  std::vector<CK_SLOT_ID> slots(count);
  check(f->C_GetSlotList(CK_TRUE, slots.data(), &count), "C_GetSlotList");
  std::optional<CK_SLOT_ID> slot;
  for (CK_ULONG i = 0; i < count && !slot; ++i) {
    CK_TOKEN_INFO info{};
    if (f->C_GetTokenInfo(slots[i], &info) == CKR_OK &&
        trim_padded(info.label, sizeof info.label) == spec.token_label) {
      slot = slots[i];
    }
  }
  if (!slot) throw std::runtime_error("no token " + spec.token_label);
  phases.mark("slot");
  CK_SESSION_HANDLE session = 0;
  check(f->C_OpenSession(*slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &session),
                "C_OpenSession");
  phases.mark("open");
  check(log_in(f, session, CKU_USER, spec.pin), "C_Login");
  phases.mark("login");
  CK_OBJECT_CLASS private_class = CKO_PRIVATE_KEY;
  auto keys = find_objects(f, session, {{CKA_CLASS, &private_class, sizeof private_class},
                                        {CKA_ID, spec.key_id.data(), spec.key_id.size()}});
  if (keys.size() != 1) throw std::runtime_error("key not found");
  phases.mark("find");
  CK_MECHANISM eddsa{CKM_EDDSA, nullptr, 0};
  CK_BYTE signature[64];
  CK_ULONG length = sizeof signature;
  Bytes message = git_shaped_data();
  check(f->C_SignInit(session, &eddsa, keys[0]), "C_SignInit");
  check(f->C_Sign(session, message.data(), message.size(), signature, &length), "C_Sign");
  phases.mark("sign");
  check(f->C_Finalize(nullptr), "C_Finalize");
  phases.mark("finalize");
  return 0;
}

int ledger(int records) {
  std::string dir = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/brokerkey-bench-ledger.jsonl";
  std::filesystem::remove(dir);
  ChainedLog log(dir);
  TimePoint t = now();
  for (int i = 0; i < records; ++i) log.append("note", {{"i", i}}, t);
  auto lines = log.read_lines();
  auto start = Clock::now();
  int rounds = 0;
  do {
    if (verify_chain(lines)) throw std::runtime_error("chain broken");
    ++rounds;
  } while (Clock::now() - start < std::chrono::seconds(1));
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("%.0f\n", static_cast<double>(rounds) * records / elapsed);
  std::filesystem::remove(dir);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "rate" && argc == 5) return rate(argv[2], std::atoi(argv[3]), std::atof(argv[4]));
    if (mode == "cold" && argc == 3) return cold(argv[2]);
    if (mode == "ledger" && argc == 3) return ledger(std::atoi(argv[2]));
    std::fprintf(stderr, "usage: brokerkey-bench rate module|backend|agent THREADS SECONDS | cold module|backend | ledger RECORDS\n");
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "brokerkey-bench: %s\n", e.what());
    return 1;
  }
}
