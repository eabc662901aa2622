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
        subcommands: [Serve.self, Migrate.self, Audit.self],
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

    /// `tegata audit`: read the audit table.
    struct Audit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print audit events from the database's audit table as JSON lines, newest first.",
            discussion: """
                The table is written only while TEGATA_AUDIT_TABLE=true (and keeps events for \
                TEGATA_AUDIT_RETENTION); the server's audit stream (TEGATA_AUDIT_LOG) has every event \
                regardless. Times are RFC 3339 (2026-12-01T09:30:00Z). For the next page, pass the \
                time of the last line printed as --until.
                """)

        @OptionGroup var options: ConfigOptions

        @Option(name: .long, help: "Only this user's events.")
        var user: String?

        @Option(name: .long, help: ArgumentHelp(
            "Only events of this type.", discussion: "One of: \(AuditEventType.allCases.map(\.rawValue).joined(separator: ", ")).",
            valueName: "type"))
        var type: String?

        @Option(name: .long, help: "Only events at or after this time (RFC 3339).")
        var since: String?

        @Option(name: .long, help: "Only events before this time (RFC 3339).")
        var until: String?

        @Option(name: .long, help: "At most this many events (1 to 1000).")
        var limit: Int = 100

        func validate() throws {
            if let type, AuditEventType(rawValue: type) == nil {
                throw ValidationError("--type must be one of \(AuditEventType.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard (1...1000).contains(limit) else { throw ValidationError("--limit must be from 1 to 1000") }
            for (name, value) in [("--since", since), ("--until", until)] {
                if let value, Self.time(value) == nil { throw ValidationError("\(name) must be an RFC 3339 time such as 2026-12-01T09:30:00Z") }
            }
        }

        static func time(_ text: String) -> Date? {
            (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text))
                ?? (try? Date.ISO8601FormatStyle().parse(text))
        }

        func run() async throws {
            let (configuration, logger) = try options.load()
            if !configuration.auditTable {
                FileHandle.standardError.write(Data("tegata: TEGATA_AUDIT_TABLE is off: the table has only what was written while it was on\n".utf8))
            }
            let store = try await StoreFactory.open(configuration, logger: logger)
            let events: [AuditEvent]
            do {
                events = try await store.auditEvents(AuditQuery(
                    userID: user, type: type.flatMap(AuditEventType.init(rawValue:)), since: since.flatMap(Self.time),
                    until: until.flatMap(Self.time), limit: limit))
            } catch {
                await store.close()
                throw error
            }
            await store.close()
            var output = Data()
            for event in events {
                output.append(try AuditLine.encode(event))
                output.append(UInt8(ascii: "\n"))
            }
            FileHandle.standardOutput.write(output)
        }
    }
}
