// The Store's side of certificate renewal (see store.h): when an agent last got a
// certificate, and revoking the ones a renewed certificate replaces.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "reconciler/store/sqlite_handle.h"
#include "reconciler/store/store.h"
#include "reconciler/store/store_rows.h"

namespace ww {

using store::Statement;

Result<std::optional<int64_t>> Store::NewestCertificateNotBefore(const std::string& agent_id) {
  std::lock_guard lock(mutex_);
  WW_ASSIGN_OR_RETURN(Statement select,
                      Statement::Prepare(db_, "SELECT max(not_before) FROM certificates WHERE agent_id = ?"));
  select.BindText(1, agent_id);
  WW_ASSIGN_OR_RETURN(bool found, select.Step());
  if (!found) return std::optional<int64_t>();
  return select.ColumnOptionalInt(0);
}

Result<std::vector<std::string>> Store::RevokeEarlierAgentCertificates(const std::string& serial, int64_t now) {
  std::lock_guard lock(mutex_);
  auto earlier = [&]() -> Result<std::vector<std::string>> {
    WW_ASSIGN_OR_RETURN(Statement select,
                        Statement::Prepare(db_,
                                           "SELECT older.serial FROM certificates AS used "
                                           "JOIN certificates AS older ON older.agent_id = used.agent_id "
                                           "WHERE used.serial = ? AND used.role = 'agent' AND used.revoked_at IS NULL "
                                           "AND older.revoked_at IS NULL AND older.not_before < used.not_before "
                                           "ORDER BY older.not_before, older.serial"));
    select.BindText(1, serial);
    std::vector<std::string> serials;
    while (true) {
      WW_ASSIGN_OR_RETURN(bool has_row, select.Step());
      if (!has_row) break;
      serials.push_back(select.ColumnText(0));
    }
    return serials;
  };
  // Every agent's first request after a start asks: a read alone when nothing is replaced,
  // the write lock only when something is.
  WW_ASSIGN_OR_RETURN(std::vector<std::string> revoked, earlier());
  if (revoked.empty()) return revoked;
  Status status = WriteTransaction([&]() -> Status {
    WW_ASSIGN_OR_RETURN(revoked, earlier());
    for (const std::string& older : revoked) {
      WW_ASSIGN_OR_RETURN(Statement update,
                          Statement::Prepare(db_, "UPDATE certificates SET revoked_at = ? WHERE serial = ?"));
      update.BindInt(1, now).BindText(2, older);
      WW_RETURN_IF_ERROR(update.Run());
    }
    return Status::Ok();
  });
  if (!status.ok()) return status.WithContext("revoking the certificates replaced by " + serial);
  return revoked;
}

}  // namespace ww
