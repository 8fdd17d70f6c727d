// What row-level security costs: a tenant-scoped read of 50 agents, the same query on two
// databases that differ only in whether RLS is on for `agents`, through PostgreSQL directly and
// through PgBouncer, in one run with interleaved repetitions. Needs the servers of
// scripts/test-services (ATRIUM_TEST_POSTGRES, ATRIUM_TEST_PGBOUNCER); scripts/bench-rls runs it
// and prints the result as a section of docs/BENCHMARKS.md.
//
// Two measurements per setting:
//   transaction  one read-only transaction per request, as a list route does (BEGIN with the
//                scope settings, the SELECT, COMMIT): what a request pays;
//   statement    the SELECT alone, 20 times per transaction: the policy's own cost, isolated from
//                the round trips around it.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>

#include "db/migrations.hpp"
#include "db/open.hpp"
#include "db/postgres/postgres_database.hpp"
#include "platform/clock.hpp"
#include "platform/ids.hpp"
#include "platform/log.hpp"

namespace {

using namespace atrium;

constexpr int kOrganizations = 20;
constexpr int kAgentsPerOrganization = 500;
constexpr int kStatementsPerTransaction = 20;
constexpr const char* kList =
    "SELECT id, name, description, executor, model, instructions, config, created_by,"
    " created_at, updated_at FROM agents WHERE organization_id = $1 ORDER BY id DESC LIMIT 50";

std::vector<std::string> organizations;
std::map<std::string, std::unique_ptr<db::Database>> pools;  // "rls=on/postgres" → app pool

std::string url(const std::string& user, const std::string& hostport, const std::string& db) {
  return "postgresql://" + user + "@" + hostport + "/" + db;
}

[[noreturn]] void die(const std::string& what) {
  std::cerr << "rls_bench: " << what << "\n";
  std::exit(2);
}

template <class T>
T must(Result<T> r, const std::string& what) {
  if (!r) die(what + ": " + r.error().detail);
  return std::move(*r);
}

// A migrated database with the same organizations and agents, RLS on agents on or off.
void prepare(const std::string& server, const std::string& name, bool rls) {
  auto admin = must(db::postgres::AdminSession::connect(url("postgres", server, "postgres")),
                    "cannot reach PostgreSQL");
  must(admin.run("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"), "drop");
  must(admin.run("CREATE DATABASE " + name + " OWNER atrium_owner"), "create");
  auto owner =
      must(db::open(url("atrium_owner", server, name), {.pool_size = 1, .statement_timeout = {}}),
           "open as owner");
  must(db::migrate(*owner), "migrate");
  const std::string now = format_time(std::chrono::system_clock::now());
  for (const auto& org : organizations) {
    auto r = owner->transact({.tenant = org}, [&](db::Tx& tx) -> Result<void> {
      auto o = tx.execute(
          "INSERT INTO organizations (id, name, slug, created_at, updated_at)"
          " VALUES ($1, $2, $2, $3, $3)",
          {org, "org " + org, now});
      if (!o) return fail(o.error());
      for (int i = 0; i < kAgentsPerOrganization; ++i) {
        auto a = tx.execute(
            "INSERT INTO agents (id, organization_id, name, description, executor, model,"
            " instructions, config, created_at, updated_at)"
            " VALUES ($1, $2, $3, 'An agent that answers', 'openai', 'gpt-4o-mini',"
            " 'You are helpful.', '{\"temperature\": 0.2}', $4, $4)",
            {new_id(), org, "agent " + std::to_string(i), now});
        if (!a) return fail(a.error());
      }
      return {};
    });
    if (!r) die("populate: " + r.error().detail);
  }
  auto finish = owner->transact({}, [&](db::Tx& tx) -> Result<void> {
    if (!rls) {
      if (auto r = tx.execute_script("ALTER TABLE agents NO FORCE ROW LEVEL SECURITY;"
                                     "ALTER TABLE agents DISABLE ROW LEVEL SECURITY");
          !r)
        return r;
    }
    return tx.execute_script("ANALYZE");
  });
  if (!finish) die("finish: " + finish.error().detail);
}

void list_in_transactions(benchmark::State& state, const std::string& pool, int statements) {
  db::Database& db = *pools.at(pool);
  std::size_t next = 0;
  std::int64_t rows = 0;
  for (auto _ : state) {
    const std::string& org = organizations[next++ % organizations.size()];
    auto r = db.transact({.tenant = org, .read_only = true}, [&](db::Tx& tx) -> Result<void> {
      for (int i = 0; i < statements; ++i) {
        auto q = tx.query(kList, {org});
        if (!q) return fail(q.error());
        rows += static_cast<std::int64_t>(q->size());
      }
      return {};
    });
    if (!r) {
      state.SkipWithError(r.error().detail.c_str());
      return;
    }
  }
  if (rows != static_cast<std::int64_t>(state.iterations()) * statements * 50)
    state.SkipWithError("a list did not return 50 rows");
  state.SetItemsProcessed(state.iterations() * statements);
}

// Keeps each benchmark's median (the figures the summary compares).
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& run : runs) {
      if (run.run_type == Run::RT_Aggregate && run.aggregate_name == "median")
        medians_[run.run_name.function_name] = run.GetAdjustedRealTime();  // µs per iteration
    }
    ConsoleReporter::ReportRuns(runs);
  }
  const std::map<std::string, double>& medians() const { return medians_; }

 private:
  std::map<std::string, double> medians_;
};

}  // namespace

int main(int argc, char** argv) {
  log::set_level(log::Level::kWarn);
  const char* server = std::getenv("ATRIUM_TEST_POSTGRES");
  const char* bouncer = std::getenv("ATRIUM_TEST_PGBOUNCER");
  if (!server || !bouncer) die("start the servers first: eval \"$(scripts/test-services start)\"");
  for (int i = 0; i < kOrganizations; ++i) organizations.push_back(new_id());
  prepare(server, "atrium_bench_rls_on", true);
  prepare(server, "atrium_bench_rls_off", false);

  for (const auto& [via, hostport] :
       {std::pair{"postgres", server}, std::pair{"pgbouncer", bouncer}}) {
    for (const auto& [rls, database] :
         {std::pair{"on", "atrium_bench_rls_on"}, std::pair{"off", "atrium_bench_rls_off"}}) {
      const std::string pool = std::string("rls=") + rls + "/" + via;
      pools[pool] = must(db::open(url("atrium", hostport, database), {.pool_size = 1}), pool);
      benchmark::RegisterBenchmark(
          ("transaction/" + pool).c_str(),
          [pool](benchmark::State& s) { list_in_transactions(s, pool, 1); })
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
      benchmark::RegisterBenchmark(
          ("statement/" + pool).c_str(),
          [pool](benchmark::State& s) { list_in_transactions(s, pool, kStatementsPerTransaction); })
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
    }
  }

  benchmark::Initialize(&argc, argv);
  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();

  // The summary: medians per read (a transaction's time, or a statement's: the time of a
  // transaction of 20 divided by 20), RLS on against off.
  const auto& m = reporter.medians();
  std::ostringstream out;
  out << "| measured | via | RLS off | RLS on | overhead |\n|---|---|---|---|---|\n";
  for (const char* kind : {"transaction", "statement"}) {
    for (const char* via : {"postgres", "pgbouncer"}) {
      const std::string on = std::string(kind) + "/rls=on/" + via;
      const std::string off = std::string(kind) + "/rls=off/" + via;
      if (!m.count(on) || !m.count(off)) continue;
      const double divisor = std::string(kind) == "statement" ? kStatementsPerTransaction : 1;
      const double t_on = m.at(on) / divisor, t_off = m.at(off) / divisor;
      char line[200];
      std::snprintf(line, sizeof line, "| %s | %s | %.1f µs | %.1f µs | %+.1f%% |\n", kind,
                    std::string(via) == "postgres" ? "PostgreSQL" : "PgBouncer", t_off, t_on,
                    (t_on / t_off - 1) * 100);
      out << line;
    }
  }
  std::cout << "\n" << out.str();
  return 0;
}
