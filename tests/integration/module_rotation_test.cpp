// A year in the life of the broker key, with injected time (BROKERKEY_TEST_NOW): mint,
// rotate with an overlap window, the window closing, revocation, and verification of old and
// new signatures with stock ssh-keygen through allowed-signers. The module stays loaded the
// whole time: every change reaches it without a restart.
#define BOOST_TEST_MODULE module_rotation
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <fstream>

#include "core/bytes.h"
#include "core/clock.h"
#include "core/ed25519.h"
#include "core/sshsig.h"
#include "temp_broker.h"
#include "test_hooks.h"

using namespace brokerkey;

namespace {

const std::string kT0 = "2026-01-01T00:00:00Z";
std::string day(int n) {
  return format_rfc3339(*parse_rfc3339(kT0) + Days(n));
}
void set_time(const std::string& t) { ::setenv("BROKERKEY_TEST_NOW", t.c_str(), 1); }

struct Year {
  Year() { set_time(kT0); }
  ~Year() { ::unsetenv("BROKERKEY_TEST_NOW"); }
};

CK_BYTE_PTR bytes_of(Bytes& b) { return b.data(); }

Signature sign_with(const LoadedModule& module, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key,
                    Bytes message) {
  CK_MECHANISM eddsa{CKM_EDDSA, nullptr, 0};
  BOOST_REQUIRE(module->C_SignInit(session, &eddsa, key) == CKR_OK);
  Signature signature{};
  CK_ULONG length = signature.size();
  CK_RV rv = module->C_Sign(session, bytes_of(message), message.size(), signature.data(), &length);
  BOOST_REQUIRE_MESSAGE(rv == CKR_OK, rv_text(rv));
  return signature;
}

PublicKey public_key_of(const LoadedModule& module, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key) {
  CK_BYTE point[34];
  CK_ATTRIBUTE a{CKA_EC_POINT, point, sizeof point};
  BOOST_REQUIRE(module->C_GetAttributeValue(session, key, &a, 1) == CKR_OK);
  return public_key_from_ec_point(ByteView(point, a.ulValueLen));
}

std::string role_of(const LoadedModule& module, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key) {
  char role[16];
  CK_ATTRIBUTE a{CKA_BROKERKEY_ROLE, role, sizeof role};
  BOOST_REQUIRE(module->C_GetAttributeValue(session, key, &a, 1) == CKR_OK);
  return std::string(role, a.ulValueLen);
}

CK_ULONG present_slots(const LoadedModule& module) {
  CK_ULONG count = 0;
  BOOST_REQUIRE(module->C_GetSlotList(CK_TRUE, nullptr, &count) == CKR_OK);
  return count;
}

// Signs `message` as git does (namespace "git") and checks it with stock ssh-keygen at
// `verify_time`, against the ledger's allowed-signers file.
int ssh_verify(const TempBroker& broker, const std::string& name, const std::string& message,
               const PublicKey& key, const Signature& signature, const std::string& verify_time) {
  fs::path dir = broker.dir();
  std::ofstream(dir / (name + ".msg")) << message;
  std::ofstream(dir / (name + ".sig")) << sshsig_armor(key, "git", signature);
  broker.keytool("allowed-signers --principal ci@acme > " + (dir / "allowed_signers").string());
  std::string stamp;
  for (char c : verify_time) {
    if (std::isdigit(static_cast<unsigned char>(c))) stamp.push_back(c);
  }
  CommandResult r = run_command("ssh-keygen -Y verify -f " + (dir / "allowed_signers").string() +
                                " -I ci@acme -n git -O verify-time=" + stamp + " -s " +
                                (dir / (name + ".sig")).string() + " < " +
                                (dir / (name + ".msg")).string());
  BOOST_TEST_MESSAGE("ssh-keygen: " << r.output);
  return r.status;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_whole_year) {
  Year year;
  TempBroker broker;  // init, mint, consumer at T0
  LoadedModule module;
  std::string old_fingerprint = broker.fingerprint();

  // T0+350d: rotation is near; the old key signs a commit at T0+100d first.
  set_time(day(100));
  CK_SESSION_HANDLE session = module.open_session(broker.pin());
  CK_OBJECT_HANDLE old_private = module.find_one(session, CKO_PRIVATE_KEY);
  CK_OBJECT_HANDLE old_public = module.find_one(session, CKO_PUBLIC_KEY);
  PublicKey old_key = public_key_of(module, session, old_public);
  Bytes commit1 = *hex_decode(hex_encode(as_bytes("commit made at day 100")));
  Bytes signed1 = sshsig_signed_data("git", commit1);
  Signature signature1 = sign_with(module, session, old_private, signed1);

  // A signature already initialised when the rotation commits may complete.
  CK_MECHANISM eddsa{CKM_EDDSA, nullptr, 0};
  BOOST_REQUIRE(module->C_SignInit(session, &eddsa, old_private) == CKR_OK);

  set_time(day(365));
  std::string rotated = broker.keytool("rotate");
  set_time(day(366));
  BOOST_TEST(present_slots(module) == 2u);
  Bytes in_flight = *hex_decode(hex_encode(as_bytes("in flight")));
  Signature late{};
  CK_ULONG length = late.size();
  BOOST_TEST(module->C_Sign(session, in_flight.data(), in_flight.size(), late.data(), &length) == CKR_OK);
  BOOST_TEST(ed25519_verify(old_key, in_flight, late));

  // The old key can no longer sign; its public key answers as the overlap key.
  BOOST_TEST(module->C_SignInit(session, &eddsa, old_private) == CKR_KEY_HANDLE_INVALID);
  BOOST_TEST(role_of(module, session, old_public) == "overlap");

  // The current slot: same token and key label, a new key.
  CK_OBJECT_HANDLE new_private = module.find_one(session, CKO_PRIVATE_KEY);
  CK_OBJECT_HANDLE new_public = module.find_one(session, CKO_PUBLIC_KEY);
  BOOST_TEST(new_private != old_private);
  PublicKey new_key = public_key_of(module, session, new_public);
  BOOST_TEST(!(new_key == old_key));
  std::string new_fingerprint = broker.fingerprint();
  BOOST_TEST(new_fingerprint != old_fingerprint);
  BOOST_TEST(rotated.find(new_fingerprint) != std::string::npos);

  // The overlap slot: the old public key only, verifying what it signed before.
  CK_SESSION_HANDLE overlap = module.open_session("", 1);
  CK_OBJECT_HANDLE overlap_public = module.find_one(overlap, CKO_PUBLIC_KEY);
  BOOST_TEST(overlap_public == old_public);
  CK_TOKEN_INFO info{};
  BOOST_REQUIRE(module->C_GetTokenInfo(1, &info) == CKR_OK);
  BOOST_TEST(std::string(reinterpret_cast<char*>(info.label), 17) == "brokerkey-overlap");
  BOOST_TEST(std::string(reinterpret_cast<char*>(info.serialNumber), 16) == old_fingerprint.substr(0, 16));
  std::string overlap_pin = broker.pin();
  BOOST_REQUIRE(module->C_Login(overlap, CKU_USER, reinterpret_cast<CK_UTF8CHAR_PTR>(overlap_pin.data()),
                                overlap_pin.size()) == CKR_OK);
  BOOST_TEST(module.find_all(overlap, CKO_PRIVATE_KEY).empty());  // no private key in the overlap slot
  BOOST_REQUIRE(module->C_VerifyInit(overlap, &eddsa, overlap_public) == CKR_OK);
  BOOST_TEST(module->C_Verify(overlap, signed1.data(), signed1.size(), signature1.data(), 64) == CKR_OK);

  // T0+370d: the new key signs.
  set_time(day(370));
  Bytes commit2 = *hex_decode(hex_encode(as_bytes("commit made at day 370")));
  Signature signature2 = sign_with(module, session, new_private, sshsig_signed_data("git", commit2));
  BOOST_TEST(ed25519_verify(new_key, sshsig_signed_data("git", commit2), signature2));

  // Stock ssh-keygen accepts both, each at the time it was made, through allowed-signers.
  BOOST_TEST(ssh_verify(broker, "c1", "commit made at day 100", old_key, signature1, day(100)) == 0);
  BOOST_TEST(ssh_verify(broker, "c2", "commit made at day 370", new_key, signature2, day(370)) == 0);
  // The old key is not valid for signatures made after the rotation, nor the new one before.
  BOOST_TEST(ssh_verify(broker, "c1", "commit made at day 100", old_key, signature1, day(370)) != 0);
  BOOST_TEST(ssh_verify(broker, "c2", "commit made at day 370", new_key, signature2, day(100)) != 0);

  // T0+396d: the window has closed, before anyone retired the key.
  set_time(day(396));
  BOOST_TEST(present_slots(module) == 1u);
  BOOST_TEST(module->C_GetTokenInfo(1, &info) == CKR_TOKEN_NOT_PRESENT);
  std::string check = broker.keytool("retire --expired");
  BOOST_TEST(check.find(old_fingerprint) != std::string::npos);
  BOOST_TEST(ssh_verify(broker, "c1", "commit made at day 100", old_key, signature1, day(100)) == 0);

  // Emergency: the current key is revoked. No key is shown until the next mint, and
  // nothing it signed verifies any more.
  set_time(day(400));
  BOOST_REQUIRE(module->C_SignInit(session, &eddsa, new_private) == CKR_OK);
  broker.keytool("revoke " + new_fingerprint + " --reason 'test compromise'");
  BOOST_TEST(present_slots(module) == 0u);
  // A signature initialised before a revocation may not complete: CKR_FUNCTION_REJECTED, the
  // refusal in C_Sign's list (module_return_codes_test checks the lists).
  length = late.size();
  BOOST_TEST(module->C_Sign(session, in_flight.data(), in_flight.size(), late.data(), &length) ==
             CKR_FUNCTION_REJECTED);
  BOOST_TEST(module->C_SignInit(session, &eddsa, new_private) == CKR_KEY_HANDLE_INVALID);
  BOOST_TEST(ssh_verify(broker, "c2", "commit made at day 370", new_key, signature2, day(370)) != 0);
  broker.keytool("mint");
  BOOST_TEST(present_slots(module) == 1u);

  std::string audit = broker.keytool("audit verify");
  BOOST_TEST(audit.find("chain intact") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(lifecycle_refusals_change_nothing) {
  Year year;
  TempBroker broker(TempBroker::With::key);
  std::string fingerprint = broker.fingerprint();
  std::string ledger = (broker.broker_dir() / "ledger.jsonl").string();
  std::string before = run_command("cat " + ledger).output;
  broker.keytool("retire " + fingerprint, 1);                    // the current key
  broker.keytool("retire " + std::string(64, 'a'), 1);           // unknown
  broker.keytool("retire abc", 1);                               // not a fingerprint
  broker.keytool("revoke " + fingerprint, 2);                    // no reason
  broker.keytool("rotate --overlap 3x", 2);                      // bad duration
  BOOST_TEST(run_command("cat " + ledger).output == before);
  set_time(day(10));
  broker.keytool("rotate --overlap 5d");
  before = run_command("cat " + ledger).output;
  broker.keytool("rotate", 1);  // the previous window is still open
  BOOST_TEST(run_command("cat " + ledger).output == before);
  set_time(day(16));
  broker.keytool("retire --expired");
  broker.keytool("rotate");
}

namespace {
// The key pairs the backend token holds, as its own tool counts them.
int backend_key_pairs(const TempBroker& broker) {
  CommandResult r = broker.backend_tool("-O --type privkey");
  BOOST_REQUIRE_MESSAGE(r.status == 0, r.output);
  int count = 0;
  for (std::size_t at = 0; (at = r.output.find("Private Key Object", at)) != std::string::npos; ++at) ++count;
  return count;
}
}  // namespace

BOOST_AUTO_TEST_CASE(a_crash_mid_mint_leaves_only_an_uncommitted_key) {
  Year year;
  TempBroker broker(TempBroker::With::nothing);
  std::string ledger = (broker.broker_dir() / "ledger.jsonl").string();
  std::string before = run_command("cat " + ledger).output;
  CommandResult crashed = run_command("BROKERKEY_TEST_CRASH_AT=mint:after-generate " +
                                      std::string(BROKERKEY_TOOL) + " mint");
  BOOST_TEST(crashed.status != 0);
  BOOST_TEST(run_command("cat " + ledger).output == before);  // nothing committed
  BOOST_TEST(backend_key_pairs(broker) == 1);                 // the leftover
  LoadedModule module;
  CK_ULONG count = 9;
  BOOST_REQUIRE(module->C_GetSlotList(CK_TRUE, nullptr, &count) == CKR_OK);
  BOOST_TEST(count == 0u);  // never shown: no record names it
  broker.keytool("audit verify");
  broker.keytool("mint");
  BOOST_TEST(backend_key_pairs(broker) == 2);
}

BOOST_AUTO_TEST_CASE(a_crash_mid_retire_is_completed_by_running_it_again) {
  Year year;
  TempBroker broker(TempBroker::With::key);
  std::string old_fingerprint = broker.fingerprint();
  broker.keytool("rotate --overlap 1d");
  set_time(day(2));
  CommandResult crashed = run_command("BROKERKEY_TEST_CRASH_AT=retire:after-record " +
                                      std::string(BROKERKEY_TOOL) + " retire " + old_fingerprint);
  BOOST_TEST(crashed.status != 0);
  BOOST_TEST(backend_key_pairs(broker) == 2);  // recorded, not yet destroyed
  std::string records = broker.keytool("audit list --event retire");
  BOOST_TEST(records.find(old_fingerprint) != std::string::npos);
  broker.keytool("retire " + old_fingerprint);
  BOOST_TEST(backend_key_pairs(broker) == 1);
  BOOST_TEST(broker.keytool("audit list --event retire --json").find("\"seq\"") ==
             broker.keytool("audit list --event retire --json").rfind("\"seq\""));  // one record
  broker.keytool("audit verify");
}

BOOST_AUTO_TEST_CASE(check_exit_codes_follow_the_year) {
  Year year;
  TempBroker broker(TempBroker::With::key_and_consumer);
  broker.keytool("check");                          // day 0: healthy
  set_time(day(350));
  std::string due = broker.keytool("check", 1);    // due within 30 days
  BOOST_TEST(due.find("rotation due") != std::string::npos);
  BOOST_TEST(due.find("brokerkey rotate") != std::string::npos);
  broker.keytool("check --warn-days 10");           // not within 10
  set_time(day(366));
  broker.keytool("check", 1);                       // overdue
  broker.keytool("rotate --overlap 30d");
  broker.keytool("check");
  set_time(day(400));
  std::string ended = broker.keytool("check --json", 1);  // window ended, not retired
  BOOST_TEST(ended.find("without retirement") != std::string::npos);
  broker.keytool("retire --expired");
  broker.keytool("check");
}

BOOST_AUTO_TEST_CASE(health_repairs_what_crashes_left_and_nothing_else) {
  Year year;
  TempBroker broker(TempBroker::With::key_and_consumer);
  std::string first = broker.fingerprint();
  // An interrupted rotate: an uncommitted key pair in the backend.
  run_command("BROKERKEY_TEST_CRASH_AT=rotate:after-generate " + std::string(BROKERKEY_TOOL) + " rotate");
  BOOST_TEST(backend_key_pairs(broker) == 2);
  std::string found = broker.keytool("check", 2);
  BOOST_TEST(found.find("named by no ledger record") != std::string::npos);
  BOOST_TEST(found.find("brokerkey health --repair") != std::string::npos);
  broker.keytool("health --repair");
  BOOST_TEST(backend_key_pairs(broker) == 1);
  BOOST_TEST(broker.fingerprint() == first);  // the current key is untouched
  broker.keytool("fingerprint --check --module " BROKERKEY_MODULE_PATH);

  // An interrupted revoke: recorded, not yet destroyed.
  broker.keytool("rotate --overlap 5d");
  run_command("BROKERKEY_TEST_CRASH_AT=revoke:after-record " + std::string(BROKERKEY_TOOL) +
              " revoke " + first + " --reason test");
  BOOST_TEST(backend_key_pairs(broker) == 2);
  broker.keytool("check", 2);
  broker.keytool("health --repair");
  BOOST_TEST(backend_key_pairs(broker) == 1);
  broker.keytool("check");
  broker.keytool("audit verify");
}

// SIGKILL at every effect point of mint, rotate, retire and revoke: afterwards the chain
// verifies, the module shows what the ledger names (and only that), no named key is lost, and
// health --repair brings the broker back to healthy.
BOOST_AUTO_TEST_CASE(killed_at_every_effect_point) {
  struct Point {
    const char* crash_at;
    const char* command;  // FP is replaced by the current key's fingerprint
  };
  const Point points[] = {
      {"generate:after-keypair", "mint"},       {"mint:after-generate", "mint"},
      {"generate:after-keypair", "rotate"},     {"rotate:after-generate", "rotate"},
      {"retire:after-record", "retire OLD"},    {"revoke:after-record", "revoke FP --reason x"},
  };
  for (const Point& point : points) {
    BOOST_TEST_CONTEXT(point.crash_at << " during " << point.command) {
      Year year;
      bool minting = std::string(point.command) == "mint";
      TempBroker broker(minting ? TempBroker::With::nothing : TempBroker::With::key);
      std::string old_fingerprint;
      if (std::string(point.command).rfind("retire", 0) == 0) {
        old_fingerprint = broker.fingerprint();
        broker.keytool("rotate --overlap 1d");
        set_time(day(2));
      }
      std::string named = minting ? "" : broker.fingerprint();
      std::string command = point.command;
      if (auto at = command.find("FP"); at != std::string::npos) command.replace(at, 2, named);
      if (auto at = command.find("OLD"); at != std::string::npos) command.replace(at, 3, old_fingerprint);

      CommandResult crashed = run_command("BROKERKEY_TEST_CRASH_AT=" + std::string(point.crash_at) +
                                          " " + BROKERKEY_TOOL + " " + command);
      BOOST_TEST(crashed.status != 0, "the command was not killed: " << crashed.output);
      broker.keytool("audit verify");
      // The module shows exactly the ledger's current key, proved by the backend.
      if (!named.empty() && command.rfind("revoke", 0) != 0) {
        broker.keytool("fingerprint --check --module " BROKERKEY_MODULE_PATH);
        BOOST_TEST(broker.fingerprint() == named);
      }
      broker.keytool("health --repair", command.rfind("revoke", 0) == 0 || minting ? 1 : 0);
      CommandResult check = run_command(std::string(BROKERKEY_TOOL) + " check");
      BOOST_TEST(check.status <= 1, check.output);  // no inconsistency left
      BOOST_TEST(check.output.find("inconsistent") == std::string::npos, check.output);
    }
  }
}
