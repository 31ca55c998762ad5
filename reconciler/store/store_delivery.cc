// The Store's delivery side: revision lookup, rejected commits, allocations, reports,
// failure counters, plan generations and events (see store.h). Opening, tokens, agents,
// certificates and revision writes are in store.cc.

#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "reconciler/store/sqlite_handle.h"
#include "reconciler/store/store.h"
#include "reconciler/store/store_rows.h"

namespace ww {

using store::Exec;
using store::kRevisionColumns;
using store::ReadRevision;
using store::Statement;

namespace {

ReportRecord ReadReport(const Statement& row) {
  ReportRecord report;
  report.agent_id = row.ColumnText(0);
  report.received_at = row.ColumnInt(1);
  report.generation = row.ColumnInt(2);
  report.observed_json = row.ColumnText(3);
  report.metrics_json = row.ColumnText(4);
  return report;
}

PlanGenerationRecord ReadPlanGeneration(const Statement& row) {
  PlanGenerationRecord plan;
  plan.agent_id = row.ColumnText(0);
  plan.generation = row.ColumnInt(1);
  plan.revision_id = row.ColumnInt(2);
  plan.created_at = row.ColumnInt(3);
  plan.desired_json = row.ColumnText(4);
  plan.plan_json = row.ColumnText(5);
  return plan;
}

// Error lines are stored newline-separated: each is one line by contract.
std::string JoinLines(const std::vector<std::string>& lines) {
  std::string joined;
  for (const std::string& line : lines) joined += (joined.empty() ? "" : "\n") + line;
  return joined;
}

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

}  // namespace

Result<RevisionRecord> Store::FindRevision(int64_t id) {
  std::lock_guard lock(mutex_);
  WW_ASSIGN_OR_RETURN(Statement select, Statement::Prepare(db_, std::string("SELECT ") + kRevisionColumns +
                                                                    " FROM revisions WHERE id = ?"));
  select.BindInt(1, id);
  WW_ASSIGN_OR_RETURN(bool found, select.Step());
  if (!found) return Status::NotFound("no revision " + std::to_string(id));
  return ReadRevision(select);
}

Result<std::optional<RevisionRecord>> Store::LatestGitRevision() {
  std::lock_guard lock(mutex_);
  WW_ASSIGN_OR_RETURN(Statement select, Statement::Prepare(db_, std::string("SELECT ") + kRevisionColumns +
                                                                    " FROM revisions WHERE source = 'git' "
                                                                    "ORDER BY id DESC LIMIT 1"));
  WW_ASSIGN_OR_RETURN(bool found, select.Step());
  if (!found) return std::optional<RevisionRecord>();
  return std::optional<RevisionRecord>(ReadRevision(select));
}

Status Store::RecordRejectedCommit(const RejectedCommitRecord& rejected) {
  std::lock_guard lock(mutex_);
  return WriteTransaction([&]() -> Status {
    WW_ASSIGN_OR_RETURN(Statement insert,
                        Statement::Prepare(db_, "INSERT INTO rejected_commits (commit_sha, at, errors) VALUES (?, ?, ?)"));
    insert.BindText(1, rejected.commit_sha).BindInt(2, rejected.at).BindText(3, JoinLines(rejected.errors));
    return insert.Run().WithContext("recording rejected commit " + rejected.commit_sha);
  });
}

Result<std::optional<RejectedCommitRecord>> Store::LatestRejectedCommit() {
  std::lock_guard lock(mutex_);
  WW_ASSIGN_OR_RETURN(Statement select,
                      Statement::Prepare(db_, "SELECT commit_sha, at, errors FROM rejected_commits "
                                              "ORDER BY id DESC LIMIT 1"));
  WW_ASSIGN_OR_RETURN(bool found, select.Step());
  if (!found) return std::optional<RejectedCommitRecord>();
  return std::optional<RejectedCommitRecord>(
      RejectedCommitRecord{select.ColumnText(0), select.ColumnInt(1), SplitLines(select.ColumnText(2))});
}

Status Store::ClearRejectedCommits() {
  std::lock_guard lock(mutex_);
  return WriteTransaction([&]() { return Exec(db_, "DELETE FROM rejected_commits"); });
}

Status Store::SaveAllocations(const Allocations& allocations) {
  std::lock_guard lock(mutex_);
  return WriteTransaction([&]() -> Status {
    WW_RETURN_IF_ERROR(Exec(db_, "DELETE FROM ip_allocations"));
    WW_ASSIGN_OR_RETURN(Statement insert,
                        Statement::Prepare(db_, "INSERT INTO ip_allocations (tunnel, peer, address) VALUES (?, ?, ?)"));
    for (const Allocation& allocation : allocations) {
      std::string address = allocation.address.ToString();
      insert.BindText(1, allocation.tunnel).BindText(2, allocation.peer).BindText(3, address);
      WW_RETURN_IF_ERROR(insert.Run().WithContext("allocating " + address + " to peer \"" + allocation.peer +
                                                  "\" of tunnel \"" + allocation.tunnel + "\""));
      WW_RETURN_IF_ERROR(insert.Reset());
    }
    return Status::Ok();
  });
}

Result<Allocations> Store::LoadAllocations() {
  std::lock_guard lock(mutex_);
  WW_ASSIGN_OR_RETURN(Statement select,
                      Statement::Prepare(db_, "SELECT tunnel, peer, address FROM ip_allocations ORDER BY tunnel, peer"));
  Allocations allocations;
  while (true) {
    WW_ASSIGN_OR_RETURN(bool has_row, select.Step());
    if (!has_row) break;
    Allocation allocation;
    allocation.tunnel = select.ColumnText(0);
    allocation.peer = select.ColumnText(1);
    WW_ASSIGN_OR_RETURN(allocation.address, Ipv4Address::Parse(select.ColumnText(2)));
    allocations.push_back(std::move(allocation));
  }
  return allocations;
}

Status Store::SaveReport(const ReportRecord& report) {
  std::lock_guard lock(mutex_);
  return WriteTransaction([&]() -> Status {
    WW_ASSIGN_OR_RETURN(Statement upsert,
                        Statement::Prepare(db_,
                                           "INSERT INTO reports (agent_id, received_at, generation, observed_json, "
                                           "metrics_json) VALUES (?, ?, ?, ?, ?) ON CONFLICT (agent_id) DO UPDATE SET "
                                           "received_at = excluded.received_at, generation = excluded.generation, "
                                           "observed_json = excluded.observed_json, "
                                           "metrics_json = excluded.metrics_json"));
    upsert.BindText(1, report.agent_id)
        .BindInt(2, report.received_at)
        .BindInt(3, report.generation)
        .BindText(4, report.observed_json)
        .BindText(5, report.metrics_json);
    return upsert.Run().WithContext("saving the report of agent " + report.agent_id);
  });
}

Result<ReportRecord> Store::LatestReport(const std::string& agent_id) {
  std::lock_guard lock(mutex_);
  WW_ASSIGN_OR_RETURN(Statement select,
                      Statement::Prepare(db_,
                                         "SELECT agent_id, received_at, generation, observed_json, metrics_json "
                                         "FROM reports WHERE agent_id = ?"));
  select.BindText(1, agent_id);
  WW_ASSIGN_OR_RETURN(bool found, select.Step());
  if (!found) return Status::NotFound("no report from agent " + agent_id);
  return ReadReport(select);
}

Result<std::vector<ReportRecord>> Store::ListLatestReports() {
  std::lock_guard lock(mutex_);
  WW_ASSIGN_OR_RETURN(Statement select,
                      Statement::Prepare(db_,
                                         "SELECT agent_id, received_at, generation, observed_json, metrics_json "
                                         "FROM reports ORDER BY agent_id"));
  std::vector<ReportRecord> reports;
  while (true) {
    WW_ASSIGN_OR_RETURN(bool has_row, select.Step());
    if (!has_row) break;
    reports.push_back(ReadReport(select));
  }
  return reports;
}

Status Store::SaveAgentHealth(const AgentHealthRecord& health) {
  std::lock_guard lock(mutex_);
  return WriteTransaction([&]() -> Status {
    WW_ASSIGN_OR_RETURN(Statement upsert,
                        Statement::Prepare(db_,
                                           "INSERT INTO agent_health (agent_id, consecutive_failures, "
                                           "last_failure_at, last_failed_generation, last_error) VALUES (?, ?, ?, ?, ?) "
                                           "ON CONFLICT (agent_id) DO UPDATE SET "
                                           "consecutive_failures = excluded.consecutive_failures, "
                                           "last_failure_at = excluded.last_failure_at, "
                                           "last_failed_generation = excluded.last_failed_generation, "
                                           "last_error = excluded.last_error"));
    upsert.BindText(1, health.agent_id)
        .BindInt(2, health.consecutive_failures)
        .BindInt(3, health.last_failure_at)
        .BindInt(4, health.last_failed_generation)
        .BindText(5, health.last_error);
    return upsert.Run().WithContext("saving the health of agent " + health.agent_id);
  });
}

Result<std::vector<AgentHealthRecord>> Store::ListAgentHealth() {
  std::lock_guard lock(mutex_);
  WW_ASSIGN_OR_RETURN(Statement select,
                      Statement::Prepare(db_,
                                         "SELECT agent_id, consecutive_failures, last_failure_at, "
                                         "last_failed_generation, last_error FROM agent_health ORDER BY agent_id"));
  std::vector<AgentHealthRecord> records;
  while (true) {
    WW_ASSIGN_OR_RETURN(bool has_row, select.Step());
    if (!has_row) break;
    records.push_back(AgentHealthRecord{select.ColumnText(0), select.ColumnInt(1), select.ColumnInt(2),
                                        select.ColumnInt(3), select.ColumnText(4)});
  }
  return records;
}

Result<int64_t> Store::AddPlanGeneration(const PlanGenerationRecord& plan) {
  std::lock_guard lock(mutex_);
  int64_t generation = 0;
  Status status = WriteTransaction([&]() -> Status {
    WW_ASSIGN_OR_RETURN(std::vector<int64_t> generations, AddPlanGenerationsInTransaction({&plan, 1}));
    generation = generations.front();
    return Status::Ok();
  });
  if (!status.ok()) return status.WithContext("adding a plan generation for agent " + plan.agent_id);
  return generation;
}

Result<std::vector<int64_t>> Store::AddPlanGenerations(const std::vector<PlanGenerationRecord>& plans) {
  std::lock_guard lock(mutex_);
  std::vector<int64_t> generations;
  Status status = WriteTransaction([&]() -> Status {
    WW_ASSIGN_OR_RETURN(generations, AddPlanGenerationsInTransaction(plans));
    return Status::Ok();
  });
  if (!status.ok()) return status.WithContext("adding plan generations");
  return generations;
}

Result<std::vector<int64_t>> Store::AddPlanGenerationsInTransaction(std::span<const PlanGenerationRecord> plans) {
  WW_ASSIGN_OR_RETURN(Statement next,
                      Statement::Prepare(db_,
                                         "SELECT coalesce(max(generation), 0) + 1 FROM plan_generations "
                                         "WHERE agent_id IN (SELECT id FROM agents WHERE name = "
                                         "(SELECT name FROM agents WHERE id = ?1))"));
  WW_ASSIGN_OR_RETURN(Statement insert,
                      Statement::Prepare(db_,
                                         "INSERT INTO plan_generations (agent_id, generation, revision_id, "
                                         "created_at, desired_json, plan_json) VALUES (?, ?, ?, ?, ?, ?)"));
  std::vector<int64_t> generations;
  generations.reserve(plans.size());
  for (const PlanGenerationRecord& plan : plans) {
    next.BindText(1, plan.agent_id);
    Result<bool> row = next.Step();
    if (!row.ok()) return row.status().WithContext("agent " + plan.agent_id);
    int64_t generation = next.ColumnInt(0);
    WW_RETURN_IF_ERROR(next.Reset());
    insert.BindText(1, plan.agent_id)
        .BindInt(2, generation)
        .BindInt(3, plan.revision_id)
        .BindInt(4, plan.created_at)
        .BindText(5, plan.desired_json)
        .BindText(6, plan.plan_json);
    WW_RETURN_IF_ERROR(insert.Run().WithContext("agent " + plan.agent_id));
    WW_RETURN_IF_ERROR(insert.Reset());
    generations.push_back(generation);
  }
  return generations;
}

Result<PlanGenerationRecord> Store::LatestPlanGeneration(const std::string& agent_id) {
  std::lock_guard lock(mutex_);
  WW_ASSIGN_OR_RETURN(Statement select,
                      Statement::Prepare(db_,
                                         "SELECT agent_id, generation, revision_id, created_at, desired_json, "
                                         "plan_json FROM plan_generations WHERE agent_id = ? "
                                         "ORDER BY generation DESC LIMIT 1"));
  select.BindText(1, agent_id);
  WW_ASSIGN_OR_RETURN(bool found, select.Step());
  if (!found) return Status::NotFound("no plan for agent " + agent_id);
  return ReadPlanGeneration(select);
}

Result<std::vector<PlanGenerationRecord>> Store::ListLatestPlanGenerations() {
  std::lock_guard lock(mutex_);
  WW_ASSIGN_OR_RETURN(Statement select,
                      Statement::Prepare(db_,
                                         "SELECT p.agent_id, p.generation, p.revision_id, p.created_at, "
                                         "p.desired_json, p.plan_json FROM plan_generations p "
                                         "JOIN (SELECT agent_id, max(generation) AS latest FROM plan_generations "
                                         "GROUP BY agent_id) l ON p.agent_id = l.agent_id AND p.generation = l.latest "
                                         "ORDER BY p.agent_id"));
  std::vector<PlanGenerationRecord> plans;
  while (true) {
    WW_ASSIGN_OR_RETURN(bool has_row, select.Step());
    if (!has_row) break;
    plans.push_back(ReadPlanGeneration(select));
  }
  return plans;
}

Result<int64_t> Store::AppendEvent(const EventRecord& event) {
  std::lock_guard lock(mutex_);
  int64_t id = 0;
  Status status = WriteTransaction([&]() -> Status {
    WW_ASSIGN_OR_RETURN(Statement insert,
                        Statement::Prepare(db_, "INSERT INTO events (at, agent_id, kind, message) VALUES (?, ?, ?, ?)"));
    insert.BindInt(1, event.at).BindOptionalText(2, event.agent_id).BindText(3, event.kind).BindText(4, event.message);
    WW_RETURN_IF_ERROR(insert.Run());
    id = sqlite3_last_insert_rowid(db_);
    return Status::Ok();
  });
  if (!status.ok()) return status.WithContext("appending a " + event.kind + " event");
  return id;
}

Status Store::AppendEvents(const std::vector<EventRecord>& events) {
  if (events.empty()) return Status::Ok();
  std::lock_guard lock(mutex_);
  return WriteTransaction([&]() -> Status {
    WW_ASSIGN_OR_RETURN(Statement insert,
                        Statement::Prepare(db_, "INSERT INTO events (at, agent_id, kind, message) VALUES (?, ?, ?, ?)"));
    for (const EventRecord& event : events) {
      insert.BindInt(1, event.at).BindOptionalText(2, event.agent_id).BindText(3, event.kind).BindText(4, event.message);
      WW_RETURN_IF_ERROR(insert.Run().WithContext("appending a " + event.kind + " event"));
      WW_RETURN_IF_ERROR(insert.Reset());
    }
    return Status::Ok();
  });
}

Result<int64_t> Store::PruneEvents(int64_t keep_newest, int64_t older_than) {
  std::lock_guard lock(mutex_);
  int64_t pruned = 0;
  Status pruning = WriteTransaction([&]() -> Status {
    // events_by_at for the age; the primary key for the count (the newest ids are kept).
    WW_ASSIGN_OR_RETURN(Statement by_age, Statement::Prepare(db_, "DELETE FROM events WHERE at < ?"));
    by_age.BindInt(1, older_than);
    WW_RETURN_IF_ERROR(by_age.Run().WithContext("pruning old events"));
    pruned += sqlite3_changes(db_);
    WW_ASSIGN_OR_RETURN(Statement by_count,
                        Statement::Prepare(db_, "DELETE FROM events WHERE id <= "
                                                "(SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?)"));
    by_count.BindInt(1, std::max<int64_t>(keep_newest, 0));
    WW_RETURN_IF_ERROR(by_count.Run().WithContext("pruning events beyond the history"));
    pruned += sqlite3_changes(db_);
    return Status::Ok();
  });
  if (!pruning.ok()) return pruning;
  return pruned;
}

Result<std::vector<EventRecord>> Store::RecentEvents(int64_t limit) { return EventsBefore(INT64_MAX, limit); }

Result<std::vector<EventRecord>> Store::EventsBefore(int64_t before_id, int64_t limit) {
  std::lock_guard lock(mutex_);
  WW_ASSIGN_OR_RETURN(Statement select,
                      Statement::Prepare(db_, "SELECT id, at, agent_id, kind, message FROM events WHERE id < ? "
                                              "ORDER BY id DESC LIMIT ?"));
  select.BindInt(1, before_id);
  select.BindInt(2, limit);
  std::vector<EventRecord> events;
  while (true) {
    WW_ASSIGN_OR_RETURN(bool has_row, select.Step());
    if (!has_row) break;
    EventRecord event;
    event.id = select.ColumnInt(0);
    event.at = select.ColumnInt(1);
    event.agent_id = select.ColumnOptionalText(2);
    event.kind = select.ColumnText(3);
    event.message = select.ColumnText(4);
    events.push_back(std::move(event));
  }
  return events;
}

}  // namespace ww
