// brokerkey-bench: signing through the module or through brokerkey-agent against signing on
// the backend directly, same key, same data (what git signs: SSHSIG data, namespace git).
// Prints rates; bench/run.sh runs the modes side by side and prints the ratios. A benchmark,
// not a test: it asserts nothing about speed.
//
//   brokerkey-bench rate module|backend|agent THREADS SECONDS   signatures per second
//       (agent: each thread a client with its own connection to $SSH_AUTH_SOCK)
//   brokerkey-bench cold module|backend                   one process: initialise + 1 signature
//   brokerkey-bench ledger RECORDS                        ledger verification rate
#include <dlfcn.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <atomic>
#include <cstring>
#include <chrono>
#include <cstdio>
#include <cstdlib>
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
};

Target open_target(const std::string& which) {
  Config config = load_config(locate_config());
  LedgerState state = Ledger(config.ledger).state();
  const KeyRecord* current = state.current(now());
  if (!current) throw std::runtime_error("no current key");
  Target target;
  target.key_id.assign(current->fingerprint.bytes.begin(), current->fingerprint.bytes.end());
  // Each loaded by its path, as a PKCS#11 client (ssh, p11-kit, pkcs11-tool) loads a module:
  // not as brokerkey loads its backend (a private in-memory copy, which the module's own
  // C_Initialize does for SoftHSM and which is part of what is measured).
  if (which == "module") {
    target.module = std::make_unique<BackendModule>(std::getenv("BROKERKEY_MODULE"), std::map<std::string, std::string>{},
                                                    "brokerkey");
    target.pin = std::getenv("BENCH_CONSUMER_PIN");
  } else {
    target.module = std::make_unique<BackendModule>(config.backend.module, config.backend.env, "SoftHSM");
    target.pin = read_secret_file(config.backend.pin_file).view();
  }
  return target;
}

CK_SLOT_ID slot_of(const Target& target, const std::string& which) {
  if (which == "module") return 0;
  Config config = load_config(locate_config());
  return target.module->slot_of_token(config.backend.token_label);
}

struct Signer {
  CK_FUNCTION_LIST* f;
  CK_SESSION_HANDLE session = 0;
  CK_OBJECT_HANDLE key = 0;

  Signer(const Target& target, CK_SLOT_ID slot) : f(target.module->fn()) {
    check_backend(f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &session), "C_OpenSession");
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
    CK_SLOT_ID slot = slot_of(target, which);
    std::vector<std::unique_ptr<Signer>> signers;
    for (int i = 0; i < threads; ++i) signers.push_back(std::make_unique<Signer>(target, slot));
    per_second = measure(signers, seconds);
  }
  std::printf("%.1f\n", per_second);
  return 0;
}

int cold(const std::string& which) {
  Target target = open_target(which);
  Signer signer(target, slot_of(target, which));
  Bytes message(256, 1);
  signer.sign_once(message);
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
