// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "tegata",
    platforms: [.macOS(.v15), .iOS(.v18)],
    products: [
        .executable(name: "tegata", targets: ["tegata"]),
        .library(name: "TegataServer", targets: ["TegataServer"]),
        .library(name: "TegataTokens", targets: ["TegataTokens"]),
        .library(name: "TegataWire", targets: ["TegataWire"]),
        .library(name: "TegataClient", targets: ["TegataClient"]),
        .library(name: "TegataVerifier", targets: ["TegataVerifier"]),
        .library(name: "TegataVerifierHummingbird", targets: ["TegataVerifierHummingbird"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.2"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // JSON shapes on the wire shared by server and SDK. Foundation only.
        .target(name: "TegataWire", swiftSettings: swiftSettings),
        // Access-token claims, claim validation, the key ring (ES256 JWS on swift-crypto). Shared by server and verifier.
        .target(
            name: "TegataTokens",
            dependencies: [
                "TegataWire",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The domain: users, devices, sessions, grants, store protocols, errors, clock. No HTTP, no DB driver.
        .target(
            name: "TegataCore",
            dependencies: [
                "TegataWire",
                "TegataTokens",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The embedded SQLite store (default).
        .target(
            name: "TegataStoreSQLite",
            dependencies: [
                "TegataCore",
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The PostgreSQL store (production, several replicas), on postgres-nio's connection pool.
        .target(
            name: "TegataStorePostgres",
            dependencies: [
                "TegataCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // HTTP on Hummingbird 2, typed configuration, the one wiring function.
        .target(
            name: "TegataServer",
            dependencies: [
                "TegataWire",
                "TegataTokens",
                "TegataCore",
                "TegataStoreSQLite",
                "TegataStorePostgres",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        // For resource servers: offline access-token verification, the JWKS cache, the revocation feed.
        .target(
            name: "TegataVerifier",
            dependencies: [
                "TegataTokens", "TegataWire",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The verifier as a Hummingbird middleware.
        .target(
            name: "TegataVerifierHummingbird",
            dependencies: [
                "TegataVerifier", "TegataTokens", "TegataWire",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The Swift SDK for apps. Foundation only (FoundationNetworking on Linux).
        .target(
            name: "TegataClient",
            dependencies: ["TegataWire", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings),
        // The executable: parses arguments and configuration, nothing else.
        .executableTarget(
            name: "tegata",
            dependencies: [
                "TegataServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Examples/ResourceServer: a small API protected by the verifier's middleware.
        .executableTarget(
            name: "resource-server-example",
            dependencies: [
                "TegataVerifier", "TegataVerifierHummingbird", "TegataTokens", "TegataWire",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Examples/ResourceServer",
            exclude: ["README.md"],
            swiftSettings: swiftSettings
        ),
        // Benchmarks/VerifierBenchmark: verifications/s through the verifier against raw P-256 (run in release).
        .executableTarget(
            name: "tegata-verifier-benchmark",
            dependencies: [
                "TegataVerifier", "TegataTokens", "TegataWire",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/VerifierBenchmark",
            swiftSettings: swiftSettings
        ),
        // Benchmarks/ScaleFill: fills a database with device users and sessions for Benchmarks/scale-bench.sh.
        .executableTarget(
            name: "tegata-scale-fill",
            dependencies: [
                "TegataServer", "TegataCore", "TegataWire",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/ScaleFill",
            swiftSettings: swiftSettings
        ),
        // Fuzz targets for what parses untrusted bytes, each with an oracle (Fuzz/README.md).
        .target(
            name: "TegataFuzzTargets",
            dependencies: [
                "TegataCore", "TegataServer", "TegataTokens", "TegataWire",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Fuzz/TegataFuzzTargets",
            swiftSettings: swiftSettings
        ),
        // libFuzzer's driver of the fuzz targets (Fuzz/run.sh), or a replayer of inputs in a normal build.
        .executableTarget(
            name: "tegata-fuzz",
            dependencies: ["TegataFuzzTargets"],
            path: "Fuzz/TegataFuzz",
            swiftSettings: swiftSettings
        ),
        // Test helpers shared by the server and client tests: a fake identity provider on a real socket.
        .target(
            name: "TegataTestSupport",
            dependencies: [
                "TegataServer", "TegataTokens", "TegataCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                "TegataStorePostgres",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Tests/TegataTestSupport",
            swiftSettings: swiftSettings
        ),
        // A TegataClient in its own process, for the test of several processes sharing one store.
        .executableTarget(
            name: "tegata-client-probe",
            dependencies: ["TegataClient"],
            path: "Tests/TegataClientProbe",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TegataClientTests",
            dependencies: [
                "TegataClient", "TegataServer", "TegataCore", "TegataWire", "TegataTestSupport",
                "tegata-client-probe",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TegataVerifierTests",
            dependencies: [
                "TegataVerifier", "TegataVerifierHummingbird", "TegataServer", "TegataCore", "TegataTokens", "TegataWire", "TegataTestSupport",
                "resource-server-example",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "TegataWireTests", dependencies: ["TegataWire"], swiftSettings: swiftSettings),
        .testTarget(
            name: "TegataTokensTests",
            dependencies: [
                "TegataTokens", "TegataWire", "TegataTestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TegataCoreTests",
            dependencies: ["TegataCore", "TegataTokens", "TegataWire", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TegataStoreSQLiteTests",
            dependencies: [
                "TegataStoreSQLite", "TegataCore",
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // One storage contract suite, run against every store the package has.
        .testTarget(
            name: "TegataStoreContractTests",
            dependencies: [
                "TegataCore", "TegataServer", "TegataWire", "TegataTestSupport", "TegataStorePostgres",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TegataServerTests",
            dependencies: [
                "TegataServer", "TegataStorePostgres",
                "tegata",
                "TegataCore", "TegataTokens", "TegataWire", "TegataStoreSQLite", "TegataTestSupport", "TegataFuzzTargets",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
