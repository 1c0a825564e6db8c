// Two threads sign through the module while another process rotates the key. Every signature
// must verify with a key the ledger names as current or overlap, the only error a thread may
// see is CKR_KEY_HANDLE_INVALID on an old handle after the rotation (it then finds the key
// again, as a client does), and the signing log records every signature in an intact chain.
#define BOOST_TEST_MODULE module_concurrency
#include <boost/test/unit_test.hpp>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "core/chained_log.h"
#include "core/ed25519.h"
#include "temp_broker.h"

using namespace brokerkey;

BOOST_AUTO_TEST_CASE(signing_while_another_process_rotates) {
  TempBroker broker;
  LoadedModule module;
  CK_SESSION_HANDLE login = module.open_session(broker.pin());  // keeps the slot logged in
  std::vector<PublicKey> allowed;
  auto public_key = [&](CK_SESSION_HANDLE s) {
    CK_OBJECT_HANDLE pub = module.find_one(s, CKO_PUBLIC_KEY);
    CK_BYTE point[34];
    CK_ATTRIBUTE a{CKA_EC_POINT, point, sizeof point};
    BOOST_REQUIRE(module->C_GetAttributeValue(s, pub, &a, 1) == CKR_OK);
    return public_key_from_ec_point(ByteView(point, a.ulValueLen));
  };
  allowed.push_back(public_key(login));

  std::atomic<bool> stop{false};
  std::atomic<int> signatures{0}, refound{0}, unexpected{0};
  std::mutex results_mutex;
  std::vector<std::pair<Bytes, Bytes>> results;  // message, signature
  auto worker = [&](int id) {
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    if (module->C_OpenSession(0, CKF_SERIAL_SESSION, nullptr, nullptr, &s) != CKR_OK) {
      ++unexpected;
      return;
    }
    CK_OBJECT_CLASS private_class = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE match{CKA_CLASS, &private_class, sizeof private_class};
    CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
    auto find_key = [&] {
      CK_ULONG count = 0;
      return module->C_FindObjectsInit(s, &match, 1) == CKR_OK &&
             module->C_FindObjects(s, &key, 1, &count) == CKR_OK &&
             module->C_FindObjectsFinal(s) == CKR_OK && count == 1;
    };
    if (!find_key()) ++unexpected;
    CK_MECHANISM eddsa{CKM_EDDSA, nullptr, 0};
    for (int i = 0; !stop; ++i) {
      std::string text = "thread " + std::to_string(id) + " message " + std::to_string(i);
      Bytes message(text.begin(), text.end());
      CK_RV rv = module->C_SignInit(s, &eddsa, key);
      if (rv == CKR_KEY_HANDLE_INVALID) {
        ++refound;
        if (!find_key()) ++unexpected;
        continue;
      }
      Bytes signature(64);
      CK_ULONG length = signature.size();
      if (rv != CKR_OK ||
          module->C_Sign(s, message.data(), message.size(), signature.data(), &length) != CKR_OK) {
        ++unexpected;
        continue;
      }
      ++signatures;
      std::lock_guard lock(results_mutex);
      results.emplace_back(message, signature);
    }
  };
  std::thread a(worker, 1), b(worker, 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  broker.keytool("rotate --overlap 1d");
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  stop = true;
  a.join();
  b.join();

  allowed.push_back(public_key(login));
  BOOST_TEST(!(allowed[0] == allowed[1]));
  BOOST_TEST(unexpected.load() == 0);
  BOOST_TEST(signatures.load() > 10);
  BOOST_TEST(refound.load() <= 2);  // at most once per thread, right after the rotation
  int verified = 0, by_new_key = 0;
  for (const auto& [message, signature] : results) {
    bool old_key = ed25519_verify(allowed[0], message, signature);
    bool new_key = ed25519_verify(allowed[1], message, signature);
    verified += old_key || new_key;
    by_new_key += new_key;
  }
  BOOST_TEST(verified == static_cast<int>(results.size()));
  BOOST_TEST(by_new_key > 0);  // the rotation reached the running process
  auto log = ChainedLog(broker.broker_dir() / "signing-log.jsonl").read_lines();
  BOOST_TEST(!verify_chain(log));
  BOOST_TEST(log.size() == results.size());
}
