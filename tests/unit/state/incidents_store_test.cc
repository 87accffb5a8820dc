// The state store's incident tables: create, update, list filters, timelines.
#include <gtest/gtest.h>

#include "state/sqlite_state_store.h"
#include "unit/state/temp_dir.h"

namespace steward::state {
namespace {

using testing::TempDir;

class IncidentStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = Open(); }

  std::unique_ptr<StateStore> Open() {
    auto store = OpenSqliteStateStore(dir_.Sub(".steward"), &clock_);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  int64_t Create(const std::string& service, const std::string& status, int64_t opened_at_ms,
                 const std::string& key = "k") {
    IncidentRecord r;
    r.title = service + " incident";
    r.service = service;
    r.severity = "critical";
    r.status = status;
    r.opened_at_ms = opened_at_ms;
    r.key = key;
    auto id = store_->CreateIncident(r, {Event("fired", "steward", "alert fired", opened_at_ms)});
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : 0;
  }

  static IncidentEvent Event(const std::string& kind, const std::string& actor,
                             const std::string& text, int64_t at_ms = 0) {
    IncidentEvent e;
    e.kind = kind;
    e.actor = actor;
    e.text = text;
    e.at_ms = at_ms;
    return e;
  }

  std::vector<int64_t> Ids(const IncidentFilter& f) {
    auto list = store_->ListIncidents(f);
    EXPECT_TRUE(list.ok()) << list.status().ToString();
    std::vector<int64_t> ids;
    if (list.ok())
      for (const auto& r : *list) ids.push_back(r.id);
    return ids;
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<StateStore> store_;
};

TEST_F(IncidentStoreTest, CreateAssignsIncreasingIdsAndStoresEveryField) {
  IncidentRecord r;
  r.title = "web: \"HighLatency\"";
  r.service = "web";
  r.severity = "critical";
  r.status = "acknowledged";
  r.opened_at_ms = 1000;
  r.acknowledged_at_ms = 2000;
  r.key = "service=web,alertname=HighLatency";
  auto first = store_->CreateIncident(r, {});
  auto second = store_->CreateIncident(r, {});
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_LT(*first, *second);

  auto got = store_->GetIncident(*first);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->id, *first);
  EXPECT_EQ(got->title, r.title);
  EXPECT_EQ(got->service, "web");
  EXPECT_EQ(got->severity, "critical");
  EXPECT_EQ(got->status, "acknowledged");
  EXPECT_EQ(got->opened_at_ms, 1000);
  EXPECT_EQ(got->acknowledged_at_ms, 2000);
  EXPECT_EQ(got->resolved_at_ms, 0);
  EXPECT_EQ(got->key, r.key);
}

TEST_F(IncidentStoreTest, CreateWithoutOpeningTimeUsesTheClockAndWritesItsEvents) {
  int64_t id = Create("web", "open", 0);
  auto got = store_->GetIncident(id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->opened_at_ms, ToUnixMillis(clock_.WallNow()));
  auto events = store_->ListIncidentEvents(id);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ(events->at(0).incident_id, id);
  EXPECT_EQ(events->at(0).kind, "fired");
  EXPECT_EQ(events->at(0).at_ms, ToUnixMillis(clock_.WallNow()));
  EXPECT_EQ(events->at(0).data_json, "{}");
}

TEST_F(IncidentStoreTest, UnknownIncidentIsNotFound) {
  EXPECT_EQ(store_->GetIncident(42).status().code(), StatusCode::kNotFound);
  IncidentRecord r;
  r.id = 42;
  EXPECT_EQ(store_->UpdateIncident(r, {}).code(), StatusCode::kNotFound);
  IncidentEvent e = Event("note", "alice", "hello");
  e.incident_id = 42;
  EXPECT_EQ(store_->AddIncidentEvent(e).status().code(), StatusCode::kNotFound);
  auto events = store_->ListIncidentEvents(42);
  ASSERT_TRUE(events.ok());
  EXPECT_TRUE(events->empty());
}

TEST_F(IncidentStoreTest, UnknownStatusOrKindIsRefusedAndNothingIsWritten) {
  IncidentRecord r;
  r.status = "closed";
  EXPECT_EQ(store_->CreateIncident(r, {}).status().code(), StatusCode::kInvalidArgument);
  r.status = "open";
  EXPECT_EQ(store_->CreateIncident(r, {Event("exploded", "x", "")}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(Ids({}).empty());
}

TEST_F(IncidentStoreTest, UpdateChangesTheIncidentAndAppendsEventsTogether) {
  int64_t id = Create("web", "open", 1000);
  auto r = store_->GetIncident(id);
  ASSERT_TRUE(r.ok());
  r->status = "resolved";
  r->resolved_at_ms = 5000;
  r->severity = "error";
  ASSERT_TRUE(store_->UpdateIncident(*r, {Event("note", "bob", "restarted", 4000),
                                          Event("resolved", "bob", "", 5000)})
                  .ok());
  auto got = store_->GetIncident(id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->status, "resolved");
  EXPECT_EQ(got->resolved_at_ms, 5000);
  EXPECT_EQ(got->severity, "error");
  auto events = store_->ListIncidentEvents(id);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ(events->at(1).kind, "note");
  EXPECT_EQ(events->at(1).actor, "bob");
  EXPECT_EQ(events->at(1).text, "restarted");
  EXPECT_EQ(events->at(2).kind, "resolved");
}

TEST_F(IncidentStoreTest, UpdateWithABadEventChangesNothing) {
  int64_t id = Create("web", "open", 1000);
  auto r = store_->GetIncident(id);
  ASSERT_TRUE(r.ok());
  r->status = "resolved";
  EXPECT_FALSE(store_->UpdateIncident(*r, {Event("bogus", "bob", "")}).ok());
  EXPECT_EQ(store_->GetIncident(id)->status, "open");
  EXPECT_EQ(store_->ListIncidentEvents(id)->size(), 1u);
}

TEST_F(IncidentStoreTest, EventsAreListedByTimeThenInsertionOrder) {
  int64_t id = Create("web", "open", 1000);
  int64_t other = Create("api", "open", 1000);
  for (auto [at, text] : {std::pair{3000, "c"}, std::pair{2000, "a"}, std::pair{2000, "b"}}) {
    IncidentEvent e = Event("note", "alice", text, at);
    e.incident_id = id;
    ASSERT_TRUE(store_->AddIncidentEvent(e).ok());
  }
  auto events = store_->ListIncidentEvents(id);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 4u);  // the "fired" event, then a, b, c
  EXPECT_EQ(events->at(1).text, "a");
  EXPECT_EQ(events->at(2).text, "b");
  EXPECT_EQ(events->at(3).text, "c");
  EXPECT_EQ(store_->ListIncidentEvents(other)->size(), 1u);
}

TEST_F(IncidentStoreTest, ListFiltersByStatusServiceKeyTimeAndLimit) {
  int64_t a = Create("web", "open", 1000, "web/Down");
  int64_t b = Create("web", "resolved", 2000, "web/Down");
  int64_t c = Create("api", "acknowledged", 3000, "api/Slow");
  int64_t d = Create("api", "resolved", 4000, "api/Slow");

  auto filter = [](const std::string& status, const std::string& service,
                   const std::string& key, int64_t since, int limit) {
    IncidentFilter f;
    f.status = status;
    f.service = service;
    f.key = key;
    f.opened_since_ms = since;
    f.limit = limit;
    return f;
  };
  EXPECT_EQ(Ids({}), (std::vector<int64_t>{d, c, b, a}));
  EXPECT_EQ(Ids(filter("resolved", "", "", 0, 0)), (std::vector<int64_t>{d, b}));
  EXPECT_EQ(Ids(filter("unresolved", "", "", 0, 0)), (std::vector<int64_t>{c, a}));
  EXPECT_EQ(Ids(filter("", "web", "", 0, 0)), (std::vector<int64_t>{b, a}));
  EXPECT_EQ(Ids(filter("", "", "api/Slow", 0, 0)), (std::vector<int64_t>{d, c}));
  EXPECT_EQ(Ids(filter("", "", "", 2000, 0)), (std::vector<int64_t>{d, c, b}));
  EXPECT_EQ(Ids(filter("resolved", "api", "", 0, 0)), (std::vector<int64_t>{d}));
  EXPECT_EQ(Ids(filter("", "", "", 0, 2)), (std::vector<int64_t>{d, c}));
}

TEST_F(IncidentStoreTest, IncidentsSurviveReopenAndAreSharedBetweenStores) {
  int64_t id = Create("web", "open", 1000);
  std::unique_ptr<StateStore> other = Open();  // as the daemon and a CLI command would
  IncidentEvent e = Event("note", "carol", "looking");
  e.incident_id = id;
  ASSERT_TRUE(other->AddIncidentEvent(e).ok());
  store_.reset();
  store_ = Open();
  auto events = store_->ListIncidentEvents(id);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ(events->at(1).actor, "carol");
}

}  // namespace
}  // namespace steward::state
