// How the keytool shows a key: always both fingerprints, labelled.
#pragma once

#include <boost/json/object.hpp>
#include <ostream>
#include <string_view>

#include "core/ledger.h"

namespace brokerkey {

void print_key(std::ostream& out, const KeyRecord& key, std::string_view token_label,
               std::string_view role);
boost::json::object key_json(const KeyRecord& key, std::string_view token_label, TimePoint at);

}  // namespace brokerkey
