// Signing and verification through the module, forwarded to the real SoftHSM key: the
// size-query protocol, multi-part data, mechanism parameters, login, and the signing log.
#define BOOST_TEST_MODULE module_signing
#include <boost/test/unit_test.hpp>
#include <thread>

#include "core/bytes.h"
#include "core/chained_log.h"
#include "core/ed25519.h"
#include "temp_broker.h"

using namespace brokerkey;

namespace {

struct Fixture : LoggedInBroker {

  PublicKey ledger_key() const {
    std::string pem_path = (broker.dir() / "pub.pem").string();
    broker.keytool("pubkey --format raw > " + (broker.dir() / "pub.raw").string());
    std::string raw = run_command("cat " + (broker.dir() / "pub.raw").string()).output;
    BOOST_REQUIRE(raw.size() == 32u);
    PublicKey key;
    std::copy(raw.begin(), raw.end(), key.raw.begin());
    return key;
  }
  Bytes sign(ByteView message) {
    BOOST_REQUIRE(module->C_SignInit(session, &eddsa, private_key) == CKR_OK);
    Bytes signature(64);
    CK_ULONG length = signature.size();
    CK_RV rv = module->C_Sign(session, const_cast<CK_BYTE_PTR>(message.data()), message.size(),
                              signature.data(), &length);
    BOOST_REQUIRE_MESSAGE(rv == CKR_OK, rv_text(rv));
    BOOST_REQUIRE(length == 64u);
    return signature;
  }
};

CK_BYTE_PTR bytes_of(std::string& s) { return reinterpret_cast<CK_BYTE_PTR>(s.data()); }

}  // namespace

BOOST_FIXTURE_TEST_CASE(signature_verifies_against_the_exported_key, Fixture) {
  std::string message = "commit 1234";
  Bytes signature = sign(as_bytes(message));
  BOOST_TEST(ed25519_verify(ledger_key(), as_bytes(message), signature));
  BOOST_TEST(!ed25519_verify(ledger_key(), as_bytes("commit 1235"), signature));
}

BOOST_FIXTURE_TEST_CASE(size_query_and_too_small_keep_the_operation, Fixture) {
  std::string message = "data";
  BOOST_REQUIRE(module->C_SignInit(session, &eddsa, private_key) == CKR_OK);
  CK_ULONG length = 0;
  BOOST_TEST(module->C_Sign(session, bytes_of(message), message.size(), nullptr, &length) == CKR_OK);
  BOOST_TEST(length == 64u);
  CK_BYTE buffer[64];
  length = 10;
  BOOST_TEST(module->C_Sign(session, bytes_of(message), message.size(), buffer, &length) == CKR_BUFFER_TOO_SMALL);
  BOOST_TEST(length == 64u);
  BOOST_TEST(module->C_Sign(session, bytes_of(message), message.size(), buffer, &length) == CKR_OK);
  // The successful call ended the operation.
  BOOST_TEST(module->C_Sign(session, bytes_of(message), message.size(), buffer, &length) == CKR_OPERATION_NOT_INITIALIZED);
  BOOST_TEST(ed25519_verify(ledger_key(), as_bytes(message), ByteView(buffer, 64)));
}

BOOST_FIXTURE_TEST_CASE(multi_part_equals_single_part, Fixture) {
  std::string part1 = "hello ", part2 = "world";
  Bytes single = sign(as_bytes(part1 + part2));
  BOOST_REQUIRE(module->C_SignInit(session, &eddsa, private_key) == CKR_OK);
  BOOST_REQUIRE(module->C_SignUpdate(session, bytes_of(part1), part1.size()) == CKR_OK);
  BOOST_REQUIRE(module->C_SignUpdate(session, bytes_of(part2), part2.size()) == CKR_OK);
  CK_ULONG length = 0;
  BOOST_TEST(module->C_SignFinal(session, nullptr, &length) == CKR_OK);
  Bytes multi(length);
  BOOST_REQUIRE(module->C_SignFinal(session, multi.data(), &length) == CKR_OK);
  BOOST_TEST(multi == single, boost::test_tools::per_element());  // Ed25519 is deterministic
  BOOST_TEST(module->C_SignFinal(session, multi.data(), &length) == CKR_OPERATION_NOT_INITIALIZED);
}

BOOST_FIXTURE_TEST_CASE(operation_state_errors, Fixture) {
  std::string message = "m";
  CK_BYTE buffer[64];
  CK_ULONG length = sizeof buffer;
  BOOST_TEST(module->C_Sign(session, bytes_of(message), 1, buffer, &length) == CKR_OPERATION_NOT_INITIALIZED);
  BOOST_REQUIRE(module->C_SignInit(session, &eddsa, private_key) == CKR_OK);
  BOOST_TEST(module->C_SignInit(session, &eddsa, private_key) == CKR_OPERATION_ACTIVE);
  BOOST_TEST(module->C_Sign(session, bytes_of(message), 1, buffer, nullptr) == CKR_ARGUMENTS_BAD);
  // CKR_ARGUMENTS_BAD ended it.
  BOOST_TEST(module->C_Sign(session, bytes_of(message), 1, buffer, &length) == CKR_OPERATION_NOT_INITIALIZED);
  BOOST_REQUIRE(module->C_SignInit(session, &eddsa, private_key) == CKR_OK);
  BOOST_TEST(module->C_Sign(session, nullptr, 5, buffer, &length) == CKR_ARGUMENTS_BAD);
}

BOOST_FIXTURE_TEST_CASE(only_pure_eddsa_is_accepted, Fixture) {
  CK_EDDSA_PARAMS pure{CK_FALSE, 0, nullptr};
  CK_MECHANISM with_pure{CKM_EDDSA, &pure, sizeof pure};
  BOOST_TEST(module->C_SignInit(session, &with_pure, private_key) == CKR_OK);
  CK_BYTE buffer[64];
  CK_ULONG length = sizeof buffer;
  std::string message = "x";
  BOOST_TEST(module->C_Sign(session, bytes_of(message), 1, buffer, &length) == CKR_OK);

  CK_EDDSA_PARAMS prehash{CK_TRUE, 0, nullptr};
  CK_MECHANISM with_prehash{CKM_EDDSA, &prehash, sizeof prehash};
  BOOST_TEST(module->C_SignInit(session, &with_prehash, private_key) == CKR_MECHANISM_PARAM_INVALID);
  CK_BYTE context_data[] = {1, 2, 3};
  CK_EDDSA_PARAMS context{CK_FALSE, sizeof context_data, context_data};
  CK_MECHANISM with_context{CKM_EDDSA, &context, sizeof context};
  BOOST_TEST(module->C_SignInit(session, &with_context, private_key) == CKR_MECHANISM_PARAM_INVALID);
  CK_MECHANISM wrong_size{CKM_EDDSA, &pure, 3};
  BOOST_TEST(module->C_SignInit(session, &wrong_size, private_key) == CKR_MECHANISM_PARAM_INVALID);
  CK_MECHANISM ecdsa{CKM_ECDSA, nullptr, 0};
  BOOST_TEST(module->C_SignInit(session, &ecdsa, private_key) == CKR_MECHANISM_INVALID);
  BOOST_TEST(module->C_SignInit(session, nullptr, private_key) == CKR_ARGUMENTS_BAD);
  BOOST_TEST(module->C_SignInit(session, &eddsa, public_key) == CKR_KEY_FUNCTION_NOT_PERMITTED);
  BOOST_TEST(module->C_SignInit(session, &eddsa, 0xbad) == CKR_KEY_HANDLE_INVALID);
}

BOOST_FIXTURE_TEST_CASE(verify_through_the_module, Fixture) {
  std::string message = "verify me";
  Bytes signature = sign(as_bytes(message));
  BOOST_REQUIRE(module->C_VerifyInit(session, &eddsa, public_key) == CKR_OK);
  BOOST_TEST(module->C_Verify(session, bytes_of(message), message.size(), signature.data(), 64) == CKR_OK);
  signature[5] ^= 1;
  BOOST_REQUIRE(module->C_VerifyInit(session, &eddsa, public_key) == CKR_OK);
  BOOST_TEST(module->C_Verify(session, bytes_of(message), message.size(), signature.data(), 64) == CKR_SIGNATURE_INVALID);
  BOOST_REQUIRE(module->C_VerifyInit(session, &eddsa, public_key) == CKR_OK);
  BOOST_TEST(module->C_Verify(session, bytes_of(message), message.size(), signature.data(), 63) == CKR_SIGNATURE_LEN_RANGE);
  BOOST_TEST(module->C_VerifyInit(session, &eddsa, private_key) == CKR_KEY_FUNCTION_NOT_PERMITTED);
}

BOOST_FIXTURE_TEST_CASE(login_rules, Fixture) {
  std::string pin = broker.pin();
  auto login = [&](CK_SESSION_HANDLE s, CK_USER_TYPE type, std::string p) {
    return module->C_Login(s, type, reinterpret_cast<CK_UTF8CHAR_PTR>(p.data()), p.size());
  };
  BOOST_TEST(login(session, CKU_USER, pin) == CKR_USER_ALREADY_LOGGED_IN);
  // Login is shared by every session of the slot.
  CK_SESSION_HANDLE second = module.open_session("");
  CK_SESSION_INFO info{};
  BOOST_REQUIRE(module->C_GetSessionInfo(second, &info) == CKR_OK);
  BOOST_TEST(info.state == CKS_RW_USER_FUNCTIONS);
  BOOST_REQUIRE(module->C_Logout(second) == CKR_OK);
  BOOST_TEST(module->C_Logout(session) == CKR_USER_NOT_LOGGED_IN);
  BOOST_TEST(module->C_SignInit(session, &eddsa, private_key) == CKR_USER_NOT_LOGGED_IN);

  std::string wrong = pin;
  wrong.back() = wrong.back() == 'a' ? 'b' : 'a';
  BOOST_TEST(login(session, CKU_USER, wrong) == CKR_PIN_INCORRECT);
  BOOST_TEST(login(session, CKU_USER, "nobody:" + pin.substr(3)) == CKR_PIN_INCORRECT);
  BOOST_TEST(login(session, CKU_USER, pin.substr(3)) == CKR_PIN_INCORRECT);
  BOOST_TEST(login(session, CKU_SO, pin) == CKR_PIN_LOCKED);  // no SO (module_return_codes_test)
  BOOST_TEST(login(session, 7, pin) == CKR_USER_TYPE_INVALID);
  BOOST_TEST(module->C_Login(session, CKU_USER, nullptr, 4) == CKR_ARGUMENTS_BAD);
  BOOST_TEST(login(session, CKU_USER, pin + std::string(300, 'x')) == CKR_PIN_INCORRECT);
  // A wrong PIN since the last successful login shows as CKF_USER_PIN_COUNT_LOW; a login clears it.
  CK_TOKEN_INFO token{};
  BOOST_REQUIRE(module->C_GetTokenInfo(0, &token) == CKR_OK);
  BOOST_TEST((token.flags & CKF_USER_PIN_COUNT_LOW) != 0u);
  BOOST_REQUIRE(login(session, CKU_USER, pin) == CKR_OK);
  BOOST_REQUIRE(module->C_GetTokenInfo(0, &token) == CKR_OK);
  BOOST_TEST((token.flags & CKF_USER_PIN_COUNT_LOW) == 0u);
  BOOST_REQUIRE(module->C_Logout(session) == CKR_OK);
  BOOST_REQUIRE(module->C_GetSessionInfo(session, &info) == CKR_OK);
  BOOST_TEST(info.state == CKS_RW_PUBLIC_SESSION);

  // A consumer removed after C_Initialize can no longer log in. In client mode the agent then
  // serves this account no more (it closes its connections, docs/AGENT.md): the token is gone.
  broker.keytool("consumer remove ci");
  BOOST_TEST(login(session, CKU_USER, pin) == (client_mode() ? CKR_DEVICE_REMOVED : CKR_PIN_INCORRECT));
}

BOOST_FIXTURE_TEST_CASE(every_signature_is_in_the_signing_log, Fixture) {
  std::string message = "audited";
  sign(as_bytes(message));
  sign(as_bytes(message));
  auto lines = ChainedLog(broker.broker_dir() / "signing-log.jsonl").read_lines();
  BOOST_REQUIRE(lines.size() == 2u);
  BOOST_TEST(!verify_chain(lines));
  auto record = parse_record(lines[1]);
  BOOST_TEST(record.at("consumer").as_string() == "ci");
  BOOST_TEST(record.at("fingerprint").as_string() == broker.fingerprint());
  BOOST_TEST(record.at("role").as_string() == "current");
  BOOST_TEST(record.at("result").as_string() == "ok");
  BOOST_TEST(record.at("message_sha256").as_string() == hex_encode(sha256(as_bytes(message))));
  BOOST_TEST(record.at("actor").as_object().contains("pid"));
}

BOOST_FIXTURE_TEST_CASE(threads_sign_concurrently, Fixture) {
  PublicKey key = ledger_key();
  std::atomic<int> good{0};
  auto worker = [&](int id) {
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    if (module->C_OpenSession(0, CKF_SERIAL_SESSION, nullptr, nullptr, &s) != CKR_OK) return;
    for (int i = 0; i < 20; ++i) {
      std::string message = "thread " + std::to_string(id) + " message " + std::to_string(i);
      CK_BYTE signature[64];
      CK_ULONG length = sizeof signature;
      if (module->C_SignInit(s, &eddsa, private_key) != CKR_OK) continue;
      if (module->C_Sign(s, bytes_of(message), message.size(), signature, &length) != CKR_OK) continue;
      if (ed25519_verify(key, as_bytes(message), ByteView(signature, 64))) ++good;
    }
  };
  std::thread a(worker, 1), b(worker, 2);
  a.join();
  b.join();
  BOOST_TEST(good.load() == 40);
}
