import Foundation
import TegataFuzzTargets
import Testing

/// Every committed fuzz input (the seed corpus and every crash or disagreement the fuzzers found)
/// replayed through its target on every `swift test`: a fixed finding stays fixed.
@Suite struct FuzzCorpusTests {
    static var corpus: URL { OpenAPITests.root.appendingPathComponent("Fuzz/Corpus") }

    @Test(arguments: FuzzTargets.all.keys.sorted())
    func theCorpusPassesItsTarget(name: String) throws {
        let directory = Self.corpus.appendingPathComponent(name)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(!files.isEmpty, "no seed inputs for \(name)")
        let target = try #require(FuzzTargets.all[name])
        for file in files {
            let input = try Data(contentsOf: directory.appendingPathComponent(file))
            #expect(throws: Never.self, "\(name)/\(file)") { try target(Array(input)) }
        }
    }
}
