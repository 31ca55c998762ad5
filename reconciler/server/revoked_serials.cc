#include "reconciler/server/revoked_serials.h"

#include <iterator>
#include <utility>

namespace ww {

bool RevokedSerials::Contains(const std::string& serial_hex) const {
  std::lock_guard lock(mutex_);
  return serials_.count(serial_hex) != 0;
}

void RevokedSerials::Replace(std::vector<std::string> serials) {
  std::lock_guard lock(mutex_);
  serials_ = std::set<std::string>(std::make_move_iterator(serials.begin()), std::make_move_iterator(serials.end()));
}

}  // namespace ww
