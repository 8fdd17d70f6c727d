// The storage contract, written once and run on every backend (tests/support/backends.hpp).
#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <thread>

#include "db/database.hpp"
#include "platform/clock.hpp"
#include "platform/ids.hpp"
#include "support/backends.hpp"

namespace atrium::db {
namespace {

using atrium::testing::Backend;

class DatabaseContract : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    t_ = GetParam().create();
    auto r = t_->db->transact({}, [](Tx& tx) -> Result<void> {
      return tx.execute_script(
          "CREATE TABLE items (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, n BIGINT,"
          " score DOUBLE PRECISION, flag BOOLEAN, note TEXT);"
          "CREATE TABLE children (id TEXT PRIMARY KEY,"
          " item_id TEXT NOT NULL REFERENCES items (id) ON DELETE RESTRICT);");
    });
    ASSERT_TRUE(r) << r.error().detail;
  }
  Database& db() { return *t_->db; }

  Result<std::int64_t> insert(const std::string& id, const std::string& name, std::int64_t n = 0) {
    return db().transact({}, [&](Tx& tx) {
      return tx.execute("INSERT INTO items (id, name, n) VALUES ($1, $2, $3)", {id, name, n});
    });
  }

  std::int64_t count() {
    auto r = db().transact({.read_only = true}, [](Tx& tx) -> Result<std::int64_t> {
      auto row = tx.query_one("SELECT COUNT(*) FROM items");
      if (!row) return fail(row.error());
      return (*row)->integer(0);
    });
    return r ? *r : -1;
  }

  std::unique_ptr<atrium::testing::TestDatabase> t_;
};

TEST_P(DatabaseContract, RoundTripsEveryParameterType) {
  auto r = db().transact({}, [](Tx& tx) -> Result<Row> {
    auto ins = tx.execute(
        "INSERT INTO items (id, name, n, score, flag, note) VALUES ($1, $2, $3, $4, $5, $6)",
        {"i1", "first", std::int64_t{1} << 40, 2.5, true, nullptr});
    if (!ins) return fail(ins.error());
    EXPECT_EQ(*ins, 1);
    auto row =
        tx.query_one("SELECT id, name, n, score, flag, note FROM items WHERE id = $1", {"i1"});
    if (!row) return fail(row.error());
    return **row;
  });
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->text(0), "i1");
  EXPECT_EQ(r->text(1), "first");
  EXPECT_EQ(r->integer(2), std::int64_t{1} << 40);
  EXPECT_DOUBLE_EQ(r->real(3), 2.5);
  EXPECT_TRUE(r->boolean(4));
  EXPECT_TRUE(r->is_null(5));
  EXPECT_FALSE(r->optional_text(5));
}

TEST_P(DatabaseContract, ParametersMayRepeatAndComeInAnyOrder) {
  ASSERT_TRUE(insert("a", "alpha", 5));
  auto r = db().transact({.read_only = true}, [](Tx& tx) {
    return tx.query("SELECT name FROM items WHERE n = $2 AND id = $1 AND name <> $1", {"a", 5});
  });
  ASSERT_TRUE(r) << r.error().detail;
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].text(0), "alpha");
}

TEST_P(DatabaseContract, RowsAreReadInPlaceAndOutliveTheirQuery) {
  // Enough long text that a driver copying cells into one buffer has to grow it many times.
  auto inserted = db().transact({}, [](Tx& tx) -> Result<void> {
    for (int i = 0; i < 200; ++i) {
      const std::string id = "k" + std::to_string(1000 + i);
      auto r = tx.execute("INSERT INTO items (id, name, n, flag, note) VALUES ($1, $2, $3, $4, $5)",
                          {id, id + std::string(100, 'x') + "\u00e9t\u00e9", std::int64_t{i} - 7,
                           i % 2 == 0, i % 3 == 0 ? Value(nullptr) : Value("note " + id)});
      if (!r) return fail(r.error());
    }
    return {};
  });
  ASSERT_TRUE(inserted) << inserted.error().detail;
  std::optional<Row> kept;
  std::string_view kept_name;
  {
    auto rows = db().transact({.read_only = true}, [](Tx& tx) {
      return tx.query("SELECT id, name, n, flag, note FROM items ORDER BY id");
    });
    ASSERT_TRUE(rows) << rows.error().detail;
    ASSERT_EQ(rows->size(), 200u);
    int i = 0;
    for (const Row& row : *rows) {
      const std::string id = "k" + std::to_string(1000 + i);
      ASSERT_EQ(row.size(), 5u);
      EXPECT_EQ(row.view(0), id);
      EXPECT_EQ(row.view(1), id + std::string(100, 'x') + "\u00e9t\u00e9");
      EXPECT_EQ(row.integer(2), i - 7);
      EXPECT_EQ(row.view(2), std::to_string(i - 7));
      EXPECT_EQ(row.boolean(3), i % 2 == 0);
      EXPECT_EQ(row.is_null(4), i % 3 == 0);
      EXPECT_EQ(row.optional_view(4),
                i % 3 == 0 ? std::nullopt : std::optional<std::string_view>("note " + id));
      EXPECT_EQ(row.view(4), i % 3 == 0 ? "" : "note " + id);
      ++i;
    }
    EXPECT_EQ(i, 200);
    EXPECT_EQ(rows->back().view(0), "k1199");
    kept = (*rows)[42];
    kept_name = kept->view(1);
  }
  // The Rows are gone; a Row taken from them still holds the result, and its views stay valid.
  EXPECT_EQ(kept_name, "k1042" + std::string(100, 'x') + "\u00e9t\u00e9");
  EXPECT_EQ(kept->text(0), "k1042");
  EXPECT_THROW((void)kept->view(5), std::out_of_range);
  EXPECT_TRUE(Rows().empty());
}

TEST_P(DatabaseContract, CommitsOnSuccess) {
  ASSERT_TRUE(insert("a", "alpha"));
  EXPECT_EQ(count(), 1);
}

TEST_P(DatabaseContract, RollsBackOnError) {
  auto r = db().transact({}, [](Tx& tx) -> Result<void> {
    auto ins = tx.execute("INSERT INTO items (id, name) VALUES ($1, $2)", {"a", "alpha"});
    if (!ins) return fail(ins.error());
    return fail(Error::invalid("changed my mind"));
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kInvalidRequest);
  EXPECT_EQ(count(), 0);
}

TEST_P(DatabaseContract, RollsBackOnThrow) {
  EXPECT_THROW(
      db().transact(
          {},
          [](Tx& tx) -> Result<void> {
            (void)tx.execute("INSERT INTO items (id, name) VALUES ($1, $2)", {"a", "alpha"});
            throw std::runtime_error("boom");
          }),
      std::runtime_error);
  EXPECT_EQ(count(), 0);
}

TEST_P(DatabaseContract, UniqueViolationIsConflict) {
  ASSERT_TRUE(insert("a", "alpha"));
  auto dup_name = insert("b", "alpha");
  ASSERT_FALSE(dup_name);
  EXPECT_EQ(dup_name.error().code, Code::kConflict);
  auto dup_key = insert("a", "other");
  ASSERT_FALSE(dup_key);
  EXPECT_EQ(dup_key.error().code, Code::kConflict);
  // The message does not leak the engine's text.
  EXPECT_EQ(dup_key.error().detail.find("UNIQUE"), std::string::npos);
  EXPECT_EQ(dup_key.error().detail.find("items"), std::string::npos);
}

TEST_P(DatabaseContract, ForeignKeyViolationIsConflict) {
  ASSERT_TRUE(insert("a", "alpha"));
  auto orphan = db().transact({}, [](Tx& tx) {
    return tx.execute("INSERT INTO children (id, item_id) VALUES ($1, $2)", {"c", "missing"});
  });
  ASSERT_FALSE(orphan);
  EXPECT_EQ(orphan.error().code, Code::kConflict);
  ASSERT_TRUE(db().transact({}, [](Tx& tx) {
    return tx.execute("INSERT INTO children (id, item_id) VALUES ($1, $2)", {"c", "a"});
  }));
  auto in_use = db().transact(
      {}, [](Tx& tx) { return tx.execute("DELETE FROM items WHERE id = $1", {"a"}); });
  ASSERT_FALSE(in_use);
  EXPECT_EQ(in_use.error().code, Code::kConflict);
}

TEST_P(DatabaseContract, SyntaxErrorsAreInternalWithoutDetail) {
  auto r = db().transact({}, [](Tx& tx) { return tx.query("SELEKT nonsense"); });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kInternal);
  EXPECT_EQ(r.error().detail, "internal error");
}

TEST_P(DatabaseContract, WrongParameterCountIsRefused) {
  auto r = db().transact({}, [](Tx& tx) { return tx.query("SELECT $1, $2", {"only one"}); });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kInternal);
}

TEST_P(DatabaseContract, AffectedRowCounts) {
  ASSERT_TRUE(insert("a", "alpha", 1));
  ASSERT_TRUE(insert("b", "beta", 1));
  auto r = db().transact(
      {}, [](Tx& tx) { return tx.execute("UPDATE items SET n = n + 1 WHERE n = $1", {1}); });
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 2);
  auto none = db().transact(
      {}, [](Tx& tx) { return tx.execute("DELETE FROM items WHERE id = $1", {"zzz"}); });
  ASSERT_TRUE(none);
  EXPECT_EQ(*none, 0);
}

TEST_P(DatabaseContract, ReturningClauseWorks) {
  auto r = db().transact({}, [](Tx& tx) {
    return tx.query_one("INSERT INTO items (id, name, n) VALUES ($1, $2, $3) RETURNING id, n",
                        {"r", "ret", 7});
  });
  ASSERT_TRUE(r && *r);
  EXPECT_EQ((*r)->text(0), "r");
  EXPECT_EQ((*r)->integer(1), 7);
}

TEST_P(DatabaseContract, UpsertWorks) {
  ASSERT_TRUE(insert("a", "alpha", 1));
  auto r = db().transact({}, [](Tx& tx) {
    return tx.execute(
        "INSERT INTO items (id, name, n) VALUES ($1, $2, $3)"
        " ON CONFLICT (id) DO UPDATE SET n = excluded.n",
        {"a", "alpha", 9});
  });
  ASSERT_TRUE(r) << r.error().detail;
  auto n = db().transact({.read_only = true}, [](Tx& tx) {
    return tx.query_one("SELECT n FROM items WHERE id = $1", {"a"});
  });
  ASSERT_TRUE(n && *n);
  EXPECT_EQ((*n)->integer(0), 9);
}

TEST_P(DatabaseContract, ConcurrentWritersAllSucceed) {
  constexpr int kThreads = 8, kEach = 40;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        // Read then write in one transaction: the shape that deadlocks naive SQLite setups.
        auto r = db().transact({}, [&](Tx& tx) -> Result<void> {
          auto c = tx.query_one("SELECT COUNT(*) FROM items");
          if (!c) return fail(c.error());
          auto ins =
              tx.execute("INSERT INTO items (id, name, n) VALUES ($1, $2, $3)",
                         {std::to_string(t) + "-" + std::to_string(i),
                          "n" + std::to_string(t) + "-" + std::to_string(i), (*c)->integer(0)});
          if (!ins) return fail(ins.error());
          return {};
        });
        if (!r) failures.fetch_add(1);
      }
    });
  }
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    while (!stop.load()) {
      if (count() < 0) failures.fetch_add(1);
    }
  });
  for (auto& th : threads) th.join();
  stop.store(true);
  reader.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(count(), kThreads * kEach);
}

// Columns declared with PostgreSQL's types (SQLite accepts any type name) read back as the same
// portable text: ids, times exactly as format_time() writes them, JSON; and booleans.
TEST_P(DatabaseContract, TypedColumnsReadBackAsPortableText) {
  auto created = db().transact({}, [](Tx& tx) -> Result<void> {
    return tx.execute_script(
        "CREATE TABLE typed (id UUID PRIMARY KEY, at TIMESTAMPTZ NOT NULL, later TIMESTAMPTZ,"
        " doc JSONB NOT NULL, ok BOOLEAN NOT NULL)");
  });
  ASSERT_TRUE(created) << created.error().detail;
  const std::string id = new_id();
  const auto now = std::chrono::system_clock::now();
  const std::string at = format_time(now);
  const std::string whole_second = format_time(std::chrono::floor<std::chrono::seconds>(now));
  auto r = db().transact({}, [&](Tx& tx) -> Result<Row> {
    auto ins = tx.execute("INSERT INTO typed (id, at, later, doc, ok) VALUES ($1, $2, $3, $4, $5)",
                          {id, at, whole_second, R"({"steps": 3, "tags": ["a"]})", true});
    if (!ins) return fail(ins.error());
    auto row = tx.query_one(
        "SELECT id, at, later, doc, ok FROM typed WHERE id = $1 AND at = $2 AND ok = $3",
        {id, at, true});
    if (!row) return fail(row.error());
    if (!*row) return fail(Error::not_found());
    return **row;
  });
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->text(0), id);
  EXPECT_EQ(r->text(1), at);
  EXPECT_EQ(r->text(2), whole_second);
  EXPECT_EQ(nlohmann::json::parse(r->text(3)),
            nlohmann::json::parse(R"({"steps":3,"tags":["a"]})"));
  EXPECT_TRUE(r->boolean(4));

  // Times compare as times (text order is time order on SQLite).
  auto later = db().transact({.read_only = true}, [&](Tx& tx) {
    return tx.query("SELECT id FROM typed WHERE at > $1",
                    {format_time(now - std::chrono::hours(1))});
  });
  ASSERT_TRUE(later) << later.error().detail;
  EXPECT_EQ(later->size(), 1u);
}

TEST_P(DatabaseContract, CrossTenantReadMustBeReadOnly) {
  ASSERT_TRUE(insert("a", "alpha"));
  auto write = db().transact({.cross_tenant_read = "contract test"},
                             [](Tx& tx) { return tx.execute("DELETE FROM items"); });
  ASSERT_FALSE(write);
  EXPECT_EQ(write.error().code, Code::kInternal);
  EXPECT_EQ(count(), 1);
  auto read = db().transact({.read_only = true, .cross_tenant_read = "contract test"},
                            [](Tx& tx) { return tx.query("SELECT id FROM items"); });
  ASSERT_TRUE(read) << read.error().detail;
  EXPECT_EQ(read->size(), 1u);
}

// Read, then write what was read plus one: without the lock, PostgreSQL's READ COMMITTED lets
// two transactions read the same value and one increment is lost.
TEST_P(DatabaseContract, ALockedReadModifyWriteLosesNoUpdate) {
  ASSERT_TRUE(insert("counter", "counter", 0));
  constexpr int kThreads = 6, kEach = 30;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        auto r = db().transact({}, [](Tx& tx) -> Result<void> {
          if (auto l = tx.lock("contract:counter"); !l) return l;
          auto row = tx.query_one("SELECT n FROM items WHERE id = $1", {"counter"});
          if (!row) return fail(row.error());
          auto w = tx.execute("UPDATE items SET n = $1 WHERE id = $2",
                              {(*row)->integer(0) + 1, "counter"});
          if (!w) return fail(w.error());
          return {};
        });
        if (!r) failures.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  auto n = db().transact({.read_only = true}, [](Tx& tx) {
    return tx.query_one("SELECT n FROM items WHERE id = $1", {"counter"});
  });
  ASSERT_TRUE(n && *n);
  EXPECT_EQ((*n)->integer(0), kThreads * kEach);
}

// The last statement commits the transaction, first in it or not: what the body returns
// afterwards cannot undo it, and a statement after it is refused.
TEST_P(DatabaseContract, QueryAndCommitCommitsWithTheLastStatement) {
  for (const bool alone : {true, false}) {
    const std::string id = alone ? "alone" : "second";
    auto r = db().transact({}, [&](Tx& tx) -> Result<void> {
      if (!alone) {
        auto first = tx.execute("INSERT INTO items (id, name) VALUES ($1, $1)", {"first"});
        if (!first) return fail(first.error());
      }
      auto rows = tx.query_and_commit(
          "INSERT INTO items (id, name, n) VALUES ($1, $1, $2) RETURNING n", {id, alone ? 1 : 2});
      if (!rows) return fail(rows.error());
      EXPECT_EQ(rows->size(), 1u);
      if (!rows->empty()) {
        EXPECT_EQ(rows->front().integer(0), alone ? 1 : 2);
      }
      auto after = tx.execute("INSERT INTO items (id, name) VALUES ($1, $1)", {id + " after"});
      EXPECT_FALSE(after);
      if (!after) {
        EXPECT_EQ(after.error().code, Code::kInternal);
      }
      return fail(Error::invalid("changed my mind too late"));
    });
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Code::kInvalidRequest);
  }
  EXPECT_EQ(count(), 3);  // alone, first, second
}

TEST_P(DatabaseContract, AFailedLastStatementRollsBackItsTransaction) {
  ASSERT_TRUE(insert("a", "alpha"));
  auto r = db().transact({}, [](Tx& tx) -> Result<Rows> {
    auto b = tx.execute("INSERT INTO items (id, name) VALUES ($1, $2)", {"b", "beta"});
    if (!b) return fail(b.error());
    return tx.query_and_commit("INSERT INTO items (id, name) VALUES ($1, $2)", {"c", "alpha"});
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kConflict);
  EXPECT_EQ(count(), 1);
  ASSERT_TRUE(insert("d", "delta"));  // the connection serves the next transaction
  EXPECT_EQ(count(), 2);
}

// A lock taken before the transaction's only statement holds before that statement reads: each
// insert counts every one before it, so no two count the same.
TEST_P(DatabaseContract, ALockBeforeTheOnlyStatementHoldsWhileItReads) {
  constexpr int kThreads = 6, kEach = 20;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        auto r = db().transact({}, [](Tx& tx) -> Result<void> {
          if (auto l = tx.lock("contract:numbering"); !l) return l;
          auto rows = tx.query_and_commit(
              "INSERT INTO items (id, name, n) SELECT $1, $1, COUNT(*) FROM items RETURNING n",
              {new_id()});
          if (!rows) return fail(rows.error());
          return {};
        });
        if (!r) failures.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  auto n = db().transact({.read_only = true}, [](Tx& tx) {
    return tx.query_one("SELECT COUNT(DISTINCT n), MAX(n) FROM items");
  });
  ASSERT_TRUE(n && *n);
  EXPECT_EQ((*n)->integer(0), kThreads * kEach) << "two inserts counted the same rows";
  EXPECT_EQ((*n)->integer(1), kThreads * kEach - 1);
}

TEST_P(DatabaseContract, DeferredWritesRunBeforeTheNextStatementAndCommit) {
  auto r = db().transact({}, [](Tx& tx) -> Result<std::int64_t> {
    if (auto d = tx.execute_deferred("INSERT INTO items (id, name, n) VALUES ($1, $2, $3)",
                                     {"a", "alpha", 1});
        !d)
      return fail(d.error());
    if (auto d = tx.execute_deferred("UPDATE items SET n = n + $2 WHERE id = $1", {"a", 41}); !d)
      return fail(d.error());
    auto row = tx.query_one("SELECT n FROM items WHERE id = $1", {"a"});
    if (!row) return fail(row.error());
    if (!*row) return fail(Error::internal());
    if (auto d = tx.execute_deferred("INSERT INTO items (id, name) VALUES ($1, $2)", {"b", "beta"});
        !d)
      return fail(d.error());
    return (*row)->integer(0);
  });
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(*r, 42);
  EXPECT_EQ(count(), 2);
  // A transaction of deferred writes alone commits them too.
  ASSERT_TRUE(db().transact({}, [](Tx& tx) {
    return tx.execute_deferred("INSERT INTO items (id, name) VALUES ($1, $2)", {"c", "gamma"});
  }));
  EXPECT_EQ(count(), 3);
}

TEST_P(DatabaseContract, AFailedDeferredWriteFailsTheCommitAndRollsEverythingBack) {
  ASSERT_TRUE(insert("a", "alpha"));
  auto r = db().transact({}, [](Tx& tx) -> Result<void> {
    auto first = tx.execute("INSERT INTO items (id, name) VALUES ($1, $2)", {"b", "beta"});
    if (!first) return fail(first.error());
    if (auto d =
            tx.execute_deferred("INSERT INTO items (id, name) VALUES ($1, $2)", {"c", "gamma"});
        !d)
      return fail(d.error());
    return tx.execute_deferred("INSERT INTO items (id, name) VALUES ($1, $2)", {"d", "alpha"});
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kConflict);
  EXPECT_EQ(count(), 1);
  // A failed deferred write before a statement fails that statement; the connection stays usable.
  auto s = db().transact({}, [](Tx& tx) -> Result<Rows> {
    if (auto d = tx.execute_deferred("INSERT INTO children (id, item_id) VALUES ($1, $2)",
                                     {"x", "missing"});
        !d)
      return fail(d.error());
    return tx.query("SELECT id FROM items");
  });
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Code::kConflict);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(count(), 1);
  ASSERT_TRUE(insert("e", "epsilon"));
  EXPECT_EQ(count(), 2);
}

TEST_P(DatabaseContract, PingAnswers) { EXPECT_TRUE(db().ping()); }

INSTANTIATE_TEST_SUITE_P(Backends, DatabaseContract,
                         ::testing::ValuesIn(atrium::testing::backends()),
                         atrium::testing::BackendName());

}  // namespace
}  // namespace atrium::db
