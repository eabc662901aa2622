import ArgumentParser
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import TegataCore
import TegataServer

/// The `tegata` command: parses arguments and configuration, nothing else.
@main
struct Tegata: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tegata",
        abstract: "Tegata, a self-hosted authentication token server.",
        discussion: """
            Every setting can come from a YAML or JSON file (--config) and be overridden by a TEGATA_* \
            environment variable; docs/configuration.md lists them all.
            """,
        subcommands: [Serve.self, Migrate.self],
        defaultSubcommand: Serve.self)

    static func main() async {
        // Swift concurrency's global executor runs on NIO's event loops (the ones Hummingbird serves
        // on), so a request handler's `await`s do not hop between a cooperative pool and the event
        // loops. It has to happen before any task is started on the global executor: here, first.
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        await main(nil)
    }
}

/// Options every subcommand takes.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: "A YAML or JSON configuration file. TEGATA_* environment variables override it.")
    var config: String?

    /// Loads the configuration and sets up logging, or exits with a message naming the bad key.
    func load() throws -> (TegataConfiguration, Logger) {
        let configuration: TegataConfiguration
        do {
            configuration = try TegataConfiguration.load(file: config, environment: ProcessInfo.processInfo.environment)
        } catch let error as ConfigurationError {
            FileHandle.standardError.write(Data("tegata: \(error)\n".utf8))
            throw ExitCode(78)  // EX_CONFIG
        }
        let level = configuration.logLevel
        switch configuration.logFormat {
        case .text:
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        case .json:
            LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: level) }
        }
        var logger = Logger(label: "tegata")
        logger.logLevel = level
        return (configuration, logger)
    }
}

extension Tegata {
    /// `tegata serve`: run the server.
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the token server (migrates the database and creates keys on first start).",
            discussion: """
                With no configuration it listens on 127.0.0.1:8080, keeps its data in ./tegata-data/ \
                (SQLite, WAL mode) and generates a development master key and an ES256 signing key there. \
                SIGINT or SIGTERM shut it down gracefully, finishing requests in flight.
                """)

        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let (configuration, logger) = try options.load()
            let app: any ApplicationProtocol
            do {
                app = try await buildApplication(configuration: configuration, logger: logger)
            } catch let error as ConfigurationError {
                FileHandle.standardError.write(Data("tegata: \(error)\n".utf8))
                throw ExitCode(78)
            }
            try await app.runService()
        }
    }

    /// `tegata migrate`: bring the database schema up to date.
    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create or migrate the database to the newest schema, then exit.")

        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let (configuration, logger) = try options.load()
            let store = try await StoreFactory.open(configuration, logger: logger)
            let version: Int
            do {
                version = try await store.schemaVersion()
            } catch {
                await store.close()
                throw error
            }
            await store.close()
            print("database \(StoreFactory.describe(configuration.database)) is at schema version \(version)")
        }
    }
}
