// swift-tools-version: 6.2
// Tegata's ES256 token signing and verification (TegataTokens, on swift-crypto) against jwt-kit's,
// on the same key and the same claims, in one run. Its own package so that the product never
// depends on jwt-kit. Run: Benchmarks/signing-comparison.sh
import PackageDescription

let package = Package(
    name: "SigningComparison",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "tegata", path: "../.."),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
    ],
    targets: [
        .executableTarget(
            name: "SigningComparison",
            dependencies: [
                .product(name: "TegataTokens", package: "tegata"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        )
    ]
)
