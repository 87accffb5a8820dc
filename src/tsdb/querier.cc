// DbQuerier: reads blocks and the head under the Db's read lock, per call, and merges what it
// finds per series (sorted by labels; samples by time, duplicates dropped).
#include <algorithm>
#include <map>
#include <mutex>
#include <set>

#include "tsdb/chunk_xor.h"
#include "tsdb/db_impl.h"

namespace steward::tsdb {

bool DecodeChunk(std::string_view chunk, int64_t mint, int64_t maxt, std::vector<Sample>* out) {
  XorIterator it(chunk);
  if (!it.Seek(mint)) return !it.error();
  do {
    if (it.t() > maxt) break;
    out->push_back({it.t(), it.v()});
  } while (it.Next());
  return !it.error();
}

void SortAndDedupe(std::vector<Sample>* samples) {
  auto by_time = [](const Sample& a, const Sample& b) { return a.t < b.t; };
  if (!std::is_sorted(samples->begin(), samples->end(), by_time)) {
    std::stable_sort(samples->begin(), samples->end(), by_time);
  }
  auto same_time = [](const Sample& a, const Sample& b) { return a.t == b.t; };
  samples->erase(std::unique(samples->begin(), samples->end(), same_time), samples->end());
}

std::vector<std::string> EncodeChunks(const std::vector<Sample>& samples) {
  std::vector<std::string> out;
  XorChunkBuilder b;
  for (const Sample& s : samples) {
    if (b.count() >= kMaxChunkSamples) {
      out.emplace_back(b.view());
      b.Reset();
    }
    b.Append(s.t, s.v);
  }
  if (!b.empty()) out.emplace_back(b.view());
  return out;
}

std::vector<std::shared_ptr<Block>> DbImpl::BlocksFor(int64_t mint, int64_t maxt) {
  std::vector<std::shared_ptr<Block>> out;
  for (const auto& b : blocks_) {
    if (b->Overlaps(mint, maxt)) out.push_back(b);
  }
  return out;
}

class DbQuerier : public Querier {
 public:
  explicit DbQuerier(DbImpl* db) : db_(db) {}

  StatusOr<std::vector<Series>> Select(const std::vector<Matcher>& matchers, int64_t mint,
                                       int64_t maxt, int64_t max_samples) override {
    RETURN_IF_ERROR(CheckSelector(matchers));
    // Chunks come series by series, and every block (and the head) lists its series in label
    // order: each source gives an ascending run, most often the only one. A series that is not
    // the current run's last, nor after it, starts another run; runs are merged at the end.
    std::vector<std::vector<Series>> runs(1);
    int64_t loaded = 0;
    auto add = [&](const Labels& labels, std::string_view chunk) -> Status {
      std::vector<Series>* run = &runs.back();
      if (run->empty() || run->back().labels != labels) {
        if (!run->empty() && !(run->back().labels < labels)) run = &runs.emplace_back();
        run->push_back({labels, {}});
      }
      std::vector<Sample>& samples = run->back().samples;
      size_t before = samples.size();
      // Room for the whole chunk at once instead of growing by doubling (the excess over
      // [mint, maxt] is at most one chunk per series).
      const size_t need = before + static_cast<size_t>(ChunkSampleCount(chunk));
      if (need > samples.capacity()) samples.reserve(std::max(need, 2 * samples.capacity()));
      if (!DecodeChunk(chunk, mint, maxt, &samples)) return Corruption("malformed chunk");
      loaded += static_cast<int64_t>(samples.size() - before);
      if (max_samples > 0 && loaded > max_samples) {
        return FailedPrecondition("query would load more than " + std::to_string(max_samples) +
                                  " samples");
      }
      return Status::OK();
    };
    RETURN_IF_ERROR(Visit(matchers, mint, maxt, true, add));
    std::vector<Series> out = runs.size() == 1 ? std::move(runs[0]) : MergeRuns(&runs);
    for (Series& s : out) SortAndDedupe(&s.samples);
    std::erase_if(out, [](const Series& s) { return s.samples.empty(); });
    return out;
  }

  StatusOr<std::vector<Labels>> SeriesLabels(const std::vector<Matcher>& matchers, int64_t mint,
                                             int64_t maxt) override {
    RETURN_IF_ERROR(CheckSelector(matchers));
    return MatchingLabels(matchers, mint, maxt);
  }

  StatusOr<std::vector<std::string>> LabelNames(const std::vector<Matcher>& matchers, int64_t mint,
                                                int64_t maxt) override {
    std::set<std::string> names;
    if (matchers.empty()) {
      ForEachIndex(mint, maxt, [&](IndexView& index) {
        for (std::string& n : index.LabelNames()) names.insert(std::move(n));
      });
    } else {
      RETURN_IF_ERROR(CheckSelector(matchers));
      ASSIGN_OR_RETURN(std::vector<Labels> series, MatchingLabels(matchers, mint, maxt));
      for (const Labels& l : series) {
        for (const Label& item : l.items()) names.insert(item.name);
      }
    }
    return std::vector<std::string>(names.begin(), names.end());
  }

  StatusOr<std::vector<std::string>> LabelValues(const std::string& name,
                                                 const std::vector<Matcher>& matchers, int64_t mint,
                                                 int64_t maxt) override {
    std::set<std::string> values;
    if (matchers.empty()) {
      ForEachIndex(mint, maxt, [&](IndexView& index) {
        for (std::string& v : index.LabelValues(name)) values.insert(std::move(v));
      });
    } else {
      RETURN_IF_ERROR(CheckSelector(matchers));
      ASSIGN_OR_RETURN(std::vector<Labels> series, MatchingLabels(matchers, mint, maxt));
      for (const Labels& l : series) {
        if (l.Has(name)) values.insert(std::string(l.Get(name)));
      }
    }
    return std::vector<std::string>(values.begin(), values.end());
  }

 private:
  using ChunkFn = std::function<Status(const Labels&, std::string_view chunk)>;

  bool HeadOverlaps(int64_t mint, int64_t maxt) {
    Head& head = db_->head();
    return head.NumSamples() > 0 && head.MinTime() <= maxt && head.MaxTime() >= mint;
  }

  template <class Fn>
  void ForEachIndex(int64_t mint, int64_t maxt, Fn fn) {
    std::shared_lock<std::shared_mutex> l(db_->read_mu());
    for (const auto& b : db_->BlocksFor(mint, maxt)) fn(b->index());
    if (HeadOverlaps(mint, maxt)) fn(db_->head().index());
  }

  // Calls fn for every chunk overlapping [mint, maxt] of every matching series (with the
  // chunk's bytes if load, else with empty bytes: block chunks are then not even read).
  Status Visit(const std::vector<Matcher>& matchers, int64_t mint, int64_t maxt, bool load,
               const ChunkFn& fn) {
    std::shared_lock<std::shared_mutex> l(db_->read_mu());
    Labels labels;
    std::vector<ChunkMeta> metas;
    for (const auto& b : db_->BlocksFor(mint, maxt)) {
      for (uint64_t id : SelectPostings(b->index(), matchers)) {
        // The block's name joins the message on failure only: not a string per series.
        Status st = b->index().Series(id, &labels, &metas);
        for (size_t i = 0; st.ok() && i < metas.size(); ++i) {
          const ChunkMeta& c = metas[i];
          if (c.maxt < mint || c.mint > maxt) continue;
          std::string_view bytes;
          if (load) {
            StatusOr<std::string_view> chunk = b->Chunk(c.ref);
            if (!chunk.ok()) return chunk.status();
            bytes = *chunk;
          }
          st = fn(labels, bytes);
        }
        if (!st.ok()) return st.Annotate("block " + b->meta().ulid);
      }
    }
    if (!HeadOverlaps(mint, maxt)) return Status::OK();
    HeadSeriesData data;
    for (uint64_t ref : SelectPostings(db_->head().index(), matchers)) {
      if (!db_->head().Read(ref, mint, maxt, &data)) continue;
      for (const ChunkSnapshot& c : data.chunks) RETURN_IF_ERROR(fn(data.labels, c.bytes()));
    }
    return Status::OK();
  }

  // One ascending series list from several: the samples of equal label sets concatenated.
  static std::vector<Series> MergeRuns(std::vector<std::vector<Series>>* runs) {
    std::map<Labels, std::vector<Sample>> found;
    for (std::vector<Series>& run : *runs) {
      for (Series& s : run) {
        auto [it, fresh] = found.try_emplace(std::move(s.labels));
        if (fresh) {
          it->second = std::move(s.samples);
        } else {
          it->second.insert(it->second.end(), s.samples.begin(), s.samples.end());
        }
      }
      std::vector<Series>().swap(run);
    }
    std::vector<Series> out;
    out.reserve(found.size());
    while (!found.empty()) {
      auto node = found.extract(found.begin());
      out.push_back({std::move(node.key()), std::move(node.mapped())});
    }
    return out;
  }

  StatusOr<std::vector<Labels>> MatchingLabels(const std::vector<Matcher>& matchers, int64_t mint,
                                               int64_t maxt) {
    std::set<Labels> found;
    RETURN_IF_ERROR(Visit(matchers, mint, maxt, false, [&](const Labels& l, std::string_view) {
      found.insert(l);
      return Status::OK();
    }));
    return std::vector<Labels>(found.begin(), found.end());
  }

  DbImpl* db_;
};

std::unique_ptr<Querier> DbImpl::NewQuerier() { return std::make_unique<DbQuerier>(this); }

}  // namespace steward::tsdb
