// Consumer PINs: random at creation, stored only as salted scrypt hashes in the config.
#pragma once

#include <string>
#include <string_view>

#include "core/config.h"
#include "core/files.h"

namespace brokerkey {

// 24 characters from an unambiguous alphabet (about 120 bits).
Secret generate_pin();

// Consumer names: [a-z0-9][a-z0-9._-]{0,63}.
void check_consumer_name(std::string_view name);

ConsumerEntry make_consumer_entry(std::string_view name, const Secret& pin,
                                  ScryptParams params = {});

// Constant-time comparison of scrypt(pin) with the stored hash.
bool pin_matches(const ConsumerEntry& entry, std::string_view pin);

}  // namespace brokerkey
