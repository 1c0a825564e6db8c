// brokerkey-bench: signing through the module against signing on the backend directly, same
// key, same process shape. Prints rates; bench/run.sh runs the modes side by side and prints
// the ratios. A benchmark, not a test: it asserts nothing about speed.
//
//   brokerkey-bench rate module|backend THREADS SECONDS   signatures per second
//   brokerkey-bench cold module|backend                   one process: initialise + 1 signature
//   brokerkey-bench ledger RECORDS                        ledger verification rate
#include <dlfcn.h>

#include <atomic>
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
  if (which == "module") {
    target.module = std::make_unique<BackendModule>(std::getenv("BROKERKEY_MODULE"), std::map<std::string, std::string>{});
    target.pin = std::getenv("BENCH_CONSUMER_PIN");
  } else {
    target.module = std::make_unique<BackendModule>(config.backend.module, config.backend.env);
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

int rate(const std::string& which, int threads, double seconds) {
  Target target = open_target(which);
  CK_SLOT_ID slot = slot_of(target, which);
  std::atomic<long> total{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  std::vector<std::unique_ptr<Signer>> signers;
  for (int i = 0; i < threads; ++i) signers.push_back(std::make_unique<Signer>(target, slot));
  auto start = Clock::now();
  for (int i = 0; i < threads; ++i) {
    workers.emplace_back([&, i] {
      Bytes message(256, static_cast<std::uint8_t>(i));
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
  std::printf("%.1f\n", static_cast<double>(total.load()) / elapsed);
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
    std::fprintf(stderr, "usage: brokerkey-bench rate module|backend THREADS SECONDS | cold module|backend | ledger RECORDS\n");
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "brokerkey-bench: %s\n", e.what());
    return 1;
  }
}
