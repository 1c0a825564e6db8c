#define BOOST_TEST_MODULE ledger
#include <boost/test/unit_test.hpp>

#include "core/error.h"
#include "core/ledger.h"
#include "core/text.h"
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

namespace {

// The example: a reason that would put a trusted line into allowed_signers.
const std::string kInjection =
    "laptop lost\n* namespaces=\"git\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE1hbGxvcnkgbWFsbG9yeSBtYWxsb3J5IG1hbA";

// Fold of init + mint + a revoke of that key with these fields; throws when refused.
LedgerState fold_with_revoke(LedgerFixture& f, boost::json::object revoke, TimePoint at = kT0 + Days(10)) {
  f.add("init", {{"token_label", "brokerkey"}});
  f.add("mint", key_fields(key_number(1), "a-b-ed25519-c"));
  revoke["fingerprint"] = fingerprint_of(key_number(1)).hex();
  f.add("revoke", revoke, at);
  return f.state();
}

}  // namespace

BOOST_AUTO_TEST_CASE(fold_refuses_a_hostile_text_field) {
  // The example and its neighbours: every control character, CR, NUL, ESC, DEL, C1, line
  // separators, direction overrides, bytes that are not UTF-8, and overlong text.
  for (std::string reason : {kInjection, std::string("a\rb"), std::string("a\0b", 3), std::string("\x1b[2J"),
                             std::string("a\x7f"), std::string("a\xc2\x85"), std::string("a\xe2\x80\xa8z"),
                             std::string("a\xe2\x80\xaez"), std::string("a\xe2\x81\xa6z"), std::string("\xff\xfe"),
                             std::string("\xc0\xaf"), std::string("\xed\xa0\x80"), std::string(1025, 'x')}) {
    BOOST_TEST_CONTEXT(printable(reason).substr(0, 60)) {
      LedgerFixture f;
      BOOST_CHECK_THROW(fold_with_revoke(f, {{"reason", reason}}), Error);
    }
  }
  // Quotes, commas, spaces and text beyond ASCII keep no meaning of their own in a comment.
  for (std::string reason : {std::string("lost, \"badly\" ' # * ?"), std::string("Schlüssel verloren"),
                             std::string(1024, 'x')}) {
    LedgerFixture f;
    BOOST_TEST(fold_with_revoke(f, {{"reason", reason}}).keys[0].revoke_reason == reason);
  }
}

BOOST_FIXTURE_TEST_CASE(fold_refuses_labels_that_are_not_key_labels, LedgerFixture) {
  add("init", {{"token_label", "brokerkey"}});
  add("mint", key_fields(key_number(1), "a-b-ed25519-c\n* ssh-ed25519 AAAA"));
  BOOST_CHECK_THROW(state(), Error);
  for (std::string label : {"a b-ed25519-c", "a-b-ed25519-c,x", "a\"-b-ed25519-c", "label"}) {
    LedgerFixture f;
    f.add("init", {{"token_label", "brokerkey"}});
    f.add("mint", key_fields(key_number(1), label));
    BOOST_CHECK_THROW(f.state(), Error);
  }
  for (std::string token : {"broker key", "broker\nkey", ""}) {
    LedgerFixture f;
    f.add("init", {{"token_label", token}});
    BOOST_CHECK_THROW(f.state(), Error);
  }
}

BOOST_AUTO_TEST_CASE(fold_refuses_times_out_of_order) {
  {  // compromised before the key existed
    LedgerFixture f;
    BOOST_CHECK_THROW(fold_with_revoke(f, {{"reason", "r"}, {"compromised_since", format_rfc3339(kT0 - Days(1))}}), Error);
  }
  {  // compromised after the revocation that reports it
    LedgerFixture f;
    BOOST_CHECK_THROW(fold_with_revoke(f, {{"reason", "r"}, {"compromised_since", format_rfc3339(kT0 + Days(11))}}),
                      Error);
  }
  {  // at either end is fine
    LedgerFixture f;
    BOOST_TEST((*fold_with_revoke(f, {{"reason", "r"}, {"compromised_since", format_rfc3339(kT0 + Days(10))}})
                     .keys[0]
                     .compromised_since == kT0 + Days(10)));
  }
  {  // an overlap window that ends before the rotation
    LedgerFixture f;
    f.add("init", {{"token_label", "brokerkey"}});
    f.add("mint", key_fields(key_number(1), "a-b-ed25519-c"));
    auto fields = key_fields(key_number(2), "a-b-ed25519-c");
    fields["from"] = fingerprint_of(key_number(1)).hex();
    fields["to"] = fingerprint_of(key_number(2)).hex();
    fields["overlap_until"] = format_rfc3339(kT0);
    f.add("rotate", fields, kT0 + Days(1));
    BOOST_CHECK_THROW(f.state(), Error);
  }
  {  // a rotation due before the key was made
    LedgerFixture f;
    f.add("init", {{"token_label", "brokerkey"}});
    auto fields = key_fields(key_number(1), "a-b-ed25519-c");
    fields["rotation_due"] = format_rfc3339(kT0 - Days(1));
    f.add("mint", fields);
    BOOST_CHECK_THROW(f.state(), Error);
  }
}

BOOST_AUTO_TEST_CASE(signing_windows_cover_the_key_life_in_whole_seconds) {
  KeyRecord key;
  key.created = kT0;
  BOOST_TEST(!signing_window(key)->until);  // current: open-ended
  // Rotated out at kT0+10d (rounded down): it may have signed during that whole second.
  key.superseded_at = kT0 + Days(10);
  auto window = signing_window(key);
  BOOST_TEST((*window->until == kT0 + Days(10) + std::chrono::seconds(1)));
  BOOST_TEST(window->contains(kT0));
  BOOST_TEST(window->contains(kT0 + Days(10)));
  BOOST_TEST(!window->contains(kT0 + Days(10) + std::chrono::seconds(1)));
  BOOST_TEST(!window->contains(kT0 - std::chrono::seconds(1)));
  // Revoked, compromised from kT0+5d: good only before that second.
  key.revoked_at = kT0 + Days(20);
  key.compromised_since = kT0 + Days(5);
  window = signing_window(key);
  BOOST_TEST(window->contains(kT0 + Days(5) - std::chrono::seconds(1)));
  BOOST_TEST(!window->contains(kT0 + Days(5)));
  // Compromised from its first second: nothing left.
  key.compromised_since = kT0;
  BOOST_TEST(!signing_window(key));
  key.compromised_since.reset();
  BOOST_TEST(!signing_window(key));
}

BOOST_FIXTURE_TEST_CASE(fold_refuses_control_characters_in_fields_it_does_not_read, LedgerFixture) {
  add("init", {{"token_label", "brokerkey"}});
  add("mint", key_fields(key_number(1), "a-b-ed25519-c"));
  add("note", {{"text", "fine, \"quoted\""}, {"list", boost::json::array{"a", "b"}}});
  BOOST_TEST(state().records == 3u);
  add("note", {{"nested", boost::json::object{{"deep", boost::json::array{"x\ny"}}}}});
  BOOST_CHECK_THROW(state(), Error);
}
