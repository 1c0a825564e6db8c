#include "agent_health.h"

#include <boost/json.hpp>

#include "core/error.h"
#include "core/text.h"

namespace brokerkey {

namespace json = boost::json;

namespace {

constexpr std::size_t kMaxProblems = 64;

Error bad(const std::string& what) {
  return Error(CKR_DEVICE_ERROR, "brokerkey-agent's health@brokerkey.org answer: " + what);
}

std::string line(const json::value& value, const std::string& where) {
  if (!value.is_string()) throw bad(where + " is not a string");
  std::string out(value.as_string());
  if (auto fault = text_fault(out)) throw bad(where + " " + *fault);
  return out;
}

}  // namespace

AgentHealth parse_agent_health(std::string_view text) {
  json::error_code ec;
  json::value root = json::parse(text, ec);
  if (ec || !root.is_object()) throw bad("not a JSON object");
  const json::object& top = root.as_object();
  AgentHealth health;
  const json::value* status = top.if_contains("status");
  if (!status) throw bad("lacks 'status'");
  std::string status_text = line(*status, "status");
  if (status_text != "ok" && status_text != "degraded") throw bad("status is neither ok nor degraded");
  health.ok = status_text == "ok";
  const json::value* problems = top.if_contains("problems");
  if (!problems || !problems->is_array() || problems->as_array().size() > kMaxProblems) {
    throw bad("problems is not an array of at most " + std::to_string(kMaxProblems));
  }
  for (const json::value& problem : problems->as_array()) health.problems.push_back(line(problem, "a problem"));
  if (!health.ok && health.problems.empty()) throw bad("degraded without a problem named");
  if (health.ok && !health.problems.empty()) throw bad("ok with problems named");
  if (const json::value* consumer = top.if_contains("consumer"); consumer && !consumer->is_null()) {
    if (!consumer->is_object() || !consumer->as_object().if_contains("name")) throw bad("consumer has no name");
    health.consumer = line(consumer->as_object().at("name"), "consumer.name");
  }
  const json::value* log = top.if_contains("signing_log");
  if (log && !log->is_null() && !log->is_string()) throw bad("signing_log is neither a path nor null");
  health.logged = log && log->is_string();
  return health;
}

}  // namespace brokerkey
