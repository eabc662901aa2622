import Foundation
import TegataFuzzTargets

// Built two ways:
// - with `-sanitize=fuzzer` and `-D TEGATA_LIBFUZZER` (Fuzz/run.sh), libFuzzer's `main` drives
//   `LLVMFuzzerTestOneInput`; the target is chosen by `TEGATA_FUZZ_TARGET`;
// - normally, `tegata-fuzz <target> <file or directory>…` replays inputs through one target.

/// The target chosen by `TEGATA_FUZZ_TARGET`.
private let selected: @Sendable ([UInt8]) throws -> Void = {
    let name = ProcessInfo.processInfo.environment["TEGATA_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTargets.all[name] else {
        fatalError("TEGATA_FUZZ_TARGET must be one of \(FuzzTargets.all.keys.sorted())")
    }
    return target
}()

#if TEGATA_LIBFUZZER
/// libFuzzer's entry point. An oracle's disagreement is a crash, so libFuzzer keeps the input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    do {
        try selected(input)
    } catch {
        fatalError("fuzz oracle: \(error)")
    }
    return 0
}

/// libFuzzer's driver (compiler-rt), for programs that have a `main` of their own — as every
/// SwiftPM executable does.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

@main
struct TegataFuzzDriver {
    static func main() {
        _ = selected  // fail at once on a bad TEGATA_FUZZ_TARGET
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(runFuzzerDriver(&argc, &argv) { data, size in fuzzOneInput(data, size) })
    }
}
#else
@main
struct TegataFuzzReplay {
    static func main() throws {
        var arguments = CommandLine.arguments.dropFirst()
        guard let name = arguments.popFirst(), let target = FuzzTargets.all[name] else {
            print("usage: tegata-fuzz <\(FuzzTargets.all.keys.sorted().joined(separator: "|"))> <file or directory>…")
            exit(2)
        }
        var failures = 0
        for path in arguments {
            var isDirectory: ObjCBool = false
            FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            let files = isDirectory.boolValue
                ? try FileManager.default.contentsOfDirectory(atPath: path).sorted().map { (path as NSString).appendingPathComponent($0) }
                : [path]
            for file in files {
                do {
                    try target(Array(try Data(contentsOf: URL(fileURLWithPath: file))))
                } catch {
                    failures += 1
                    print("\(file): \(error)")
                }
            }
        }
        exit(failures == 0 ? 0 : 1)
    }
}
#endif
