#define BOOST_TEST_MODULE ledger
#include <boost/test/unit_test.hpp>

#include "core/error.h"
#include "core/ledger.h"
#include "temp_dir.h"

using namespace brokerkey;

namespace {

const TimePoint kT0 = *parse_rfc3339("2026-01-01T00:00:00Z");

PublicKey key_number(std::uint8_t n) {
  PublicKey key;
  key.raw.fill(n);
  return key;
}

boost::json::object key_fields(const PublicKey& key, const std::string& label) {
  return {{"label", label},
          {"fingerprint", fingerprint_of(key).hex()},
          {"public_key", base64_encode(key.raw)},
          {"rotation_due", format_rfc3339(kT0 + Days(365))}};
}

struct LedgerFixture {
  TempDir dir;
  ChainedLog log{dir.path() / "ledger.jsonl"};
  void add(std::string_view event, boost::json::object fields, TimePoint at = kT0) {
    log.append(event, fields, at);
  }
  LedgerState state() const { return fold_ledger(log.read_lines()); }
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(empty_ledger_is_not_initialised, LedgerFixture) {
  BOOST_TEST(!state().initialized);
  BOOST_TEST(state().head_hash == kGenesisPrev);
}

BOOST_FIXTURE_TEST_CASE(mint_makes_the_current_key, LedgerFixture) {
  add("init", {{"token_label", "brokerkey"}});
  add("mint", key_fields(key_number(1), "acme-git-ed25519-prod"));
  LedgerState s = state();
  BOOST_TEST(s.initialized);
  BOOST_TEST(s.token_label == "brokerkey");
  BOOST_REQUIRE(s.current(kT0));
  BOOST_TEST(s.current(kT0)->label == "acme-git-ed25519-prod");
  BOOST_TEST((s.current(kT0)->public_key == key_number(1)));
  BOOST_TEST(!s.overlap(kT0));
  BOOST_TEST(s.records == 2u);
}

BOOST_FIXTURE_TEST_CASE(rotation_opens_and_closes_the_overlap_window, LedgerFixture) {
  add("init", {{"token_label", "brokerkey"}});
  add("mint", key_fields(key_number(1), "a-b-ed25519-c"));
  auto fields = key_fields(key_number(2), "a-b-ed25519-c");
  fields["from"] = fingerprint_of(key_number(1)).hex();
  fields["to"] = fingerprint_of(key_number(2)).hex();
  fields["overlap_until"] = format_rfc3339(kT0 + Days(30));
  add("rotate", fields, kT0 + Days(1));
  LedgerState s = state();
  BOOST_TEST((s.current(kT0 + Days(2))->public_key == key_number(2)));
  BOOST_TEST((s.overlap(kT0 + Days(2))->public_key == key_number(1)));
  BOOST_TEST(!s.overlap(kT0 + Days(30)));
  BOOST_TEST(to_string(s.keys[0].status_at(kT0 + Days(31))) == "superseded");
}

BOOST_FIXTURE_TEST_CASE(revoked_key_is_neither_current_nor_overlap, LedgerFixture) {
  add("init", {{"token_label", "brokerkey"}});
  add("mint", key_fields(key_number(1), "a-b-ed25519-c"));
  add("revoke", {{"fingerprint", fingerprint_of(key_number(1)).hex()}, {"reason", "leak"}});
  LedgerState s = state();
  BOOST_TEST(!s.current(kT0));
  BOOST_TEST(s.keys[0].revoke_reason == "leak");
}

BOOST_FIXTURE_TEST_CASE(contradictions_are_refused, LedgerFixture) {
  add("init", {{"token_label", "brokerkey"}});
  add("mint", key_fields(key_number(1), "a-b-ed25519-c"));
  auto lines = log.read_lines();
  // A second mint while a key is current.
  add("mint", key_fields(key_number(2), "a-b-ed25519-c"));
  BOOST_CHECK_THROW(state(), Error);
}

// Found by fuzz/ledger_fuzz: a key minted again after it had ended gave the ledger two records
// for one fingerprint, and a later revoke of that fingerprint marked the old record, not the
// current one.
BOOST_FIXTURE_TEST_CASE(a_key_is_minted_once, LedgerFixture) {
  add("init", {{"token_label", "brokerkey"}});
  add("mint", key_fields(key_number(1), "a-b-ed25519-c"));
  add("revoke", {{"fingerprint", fingerprint_of(key_number(1)).hex()}, {"reason", "leak"}});
  add("mint", key_fields(key_number(1), "a-b-ed25519-c"));
  BOOST_CHECK_THROW(state(), Error);
}

BOOST_FIXTURE_TEST_CASE(a_rotation_needs_a_new_key, LedgerFixture) {
  add("init", {{"token_label", "brokerkey"}});
  add("mint", key_fields(key_number(1), "a-b-ed25519-c"));
  auto fields = key_fields(key_number(1), "a-b-ed25519-c");
  fields["from"] = fields["to"] = fingerprint_of(key_number(1)).hex();
  fields["overlap_until"] = format_rfc3339(kT0 + Days(30));
  add("rotate", fields, kT0 + Days(1));
  BOOST_CHECK_THROW(state(), Error);
}

BOOST_FIXTURE_TEST_CASE(public_key_must_hash_to_the_fingerprint, LedgerFixture) {
  add("init", {{"token_label", "brokerkey"}});
  auto fields = key_fields(key_number(1), "a-b-ed25519-c");
  fields["fingerprint"] = fingerprint_of(key_number(2)).hex();
  add("mint", fields);
  BOOST_CHECK_THROW(state(), Error);
}

BOOST_FIXTURE_TEST_CASE(first_record_must_be_init, LedgerFixture) {
  add("mint", key_fields(key_number(1), "a-b-ed25519-c"));
  BOOST_CHECK_THROW(state(), Error);
}

BOOST_FIXTURE_TEST_CASE(consumers_are_tracked, LedgerFixture) {
  add("init", {{"token_label", "brokerkey"}});
  add("consumer_add", {{"name", "ci"}});
  add("consumer_add", {{"name", "deploy"}});
  add("consumer_remove", {{"name", "ci"}});
  BOOST_TEST(state().consumers == std::set<std::string>{"deploy"});
  add("consumer_remove", {{"name", "ci"}});
  BOOST_CHECK_THROW(state(), Error);
}

BOOST_FIXTURE_TEST_CASE(ledger_append_refuses_what_would_not_fold, LedgerFixture) {
  Ledger ledger(log.path());
  ledger.append("init", {{"token_label", "brokerkey"}});
  ledger.append("mint", key_fields(key_number(1), "a-b-ed25519-c"));
  auto before = log.read_lines();
  BOOST_CHECK_THROW(ledger.append("mint", key_fields(key_number(2), "a-b-ed25519-c")), Error);
  BOOST_TEST(log.read_lines() == before);
}

BOOST_FIXTURE_TEST_CASE(unknown_event_is_refused, LedgerFixture) {
  add("init", {{"token_label", "brokerkey"}});
  add("frobnicate", {});
  BOOST_CHECK_THROW(state(), Error);
}
