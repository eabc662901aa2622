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
        subcommands: [Serve.self, Migrate.self, Users.self, Sessions.self, Keys.self, Audit.self],
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

        static func time(_ text: String) -> Date? { Operator.parseTime(text) }

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

// MARK: The operator CLI

/// Options of every operator command.
struct OperatorOptions: ParsableArguments {
    @OptionGroup var config: ConfigOptions

    @Flag(name: .long, help: "Print the admin API's JSON instead of text.")
    var json = false
}

extension OperatorOptions {
    /// Opens the operator on the configured database, runs `command`, prints its output, closes.
    func run(_ command: (Operator) async throws -> Operator.Output) async throws {
        let output = try await with(command)
        if json {
            if !output.json.isEmpty { FileHandle.standardOutput.write(output.json + Data("\n".utf8)) }
        } else {
            FileHandle.standardOutput.write(Data(output.text.utf8))
        }
    }

    /// Opens the operator on the configured database, runs `body` and closes it; a refusal is
    /// printed and becomes the exit code ``Operator/exitCode(for:)`` gives it.
    func with<T>(_ body: (Operator) async throws -> T) async throws -> T {
        let (configuration, logger) = try config.load()
        let operation: Operator
        do {
            operation = try await Operator.open(configuration, logger: logger)
        } catch let error as ConfigurationError {
            FileHandle.standardError.write(Data("tegata: \(error)\n".utf8))
            throw ExitCode(78)
        } catch let error as TegataError {
            FileHandle.standardError.write(Data("tegata: \(error.message)\n".utf8))
            throw ExitCode(Operator.exitCode(for: error))
        }
        do {
            let result = try await body(operation)
            await operation.close()
            return result
        } catch let error as TegataError {
            await operation.close()
            FileHandle.standardError.write(Data("tegata: \(error.message)\n".utf8))
            throw ExitCode(Operator.exitCode(for: error))
        } catch {
            await operation.close()
            throw error
        }
    }
}

/// An RFC 3339 time option, read as the admin API reads one.
func rfc3339(_ text: String) -> Date? { Operator.parseTime(text) }

extension Tegata {
    /// `tegata users …`.
    struct Users: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Look up, find, export, import, disable, enable, revoke, delete users and set their app claims.",
            discussion: """
                Works on the configured database (the same --config and TEGATA_* environment as serve) \
                through the admin API's operations, with the same feed events and audit events. Exit \
                codes: 0 done, 64 malformed argument, 65 refused, 66 unreadable file, 67 no such user or session, 69 \
                database unavailable, 78 bad configuration, 1 other.
                """,
            subcommands: [Get.self, Find.self, Export.self, Import.self, Disable.self, Enable.self, Revoke.self, Delete.self, SetClaims.self])

        struct Get: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Show a user: identities, devices, entitlements, claims, disabled state.")
            @OptionGroup var options: OperatorOptions
            @Argument(help: "The user id.") var id: String
            func run() async throws { try await options.run { try await $0.user(id) } }
        }

        struct Export: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Print everything Tegata holds of a user as JSON (an account-data request).",
                discussion: "The user, its sessions' metadata, every entitlement and, with TEGATA_AUDIT_TABLE, its newest 1000 audit events.")
            @OptionGroup var options: OperatorOptions
            @Argument(help: "The user id.") var id: String
            func run() async throws { try await options.run { try await $0.export(id) } }
        }

        struct Import: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Import users from a JSON-lines file (one user per line, as POST /admin/v1/users/import takes them).",
                discussion: """
                    Reads the file a batch at a time (each batch one transaction) and prints every line that was not \
                    imported (conflict, invalid) with its number, then the counts; --json prints one result per line. \
                    Importing is idempotent: a line already imported is 'unchanged', so a stopped import can simply run \
                    again, or resume at the batch it names with --from-line. Exit code 65 when any line was a conflict \
                    or invalid. docs/migration.md describes the record.
                    """)
            @OptionGroup var options: OperatorOptions
            @Argument(help: "The JSON-lines file, or - for standard input.") var file: String
            @Option(name: .customLong("from-line"), help: "Start at this line (1 is the first).") var fromLine = 1
            @Option(name: .customLong("batch"), help: "Users per transaction (1 to 1000).") var batch = 500

            func validate() throws {
                guard fromLine >= 1 else { throw ValidationError("--from-line must be 1 or more") }
                guard (1...1000).contains(batch) else { throw ValidationError("--batch must be from 1 to 1000") }
            }

            func run() async throws {
                guard let handle = file == "-" ? FileHandle.standardInput : FileHandle(forReadingAtPath: file) else {
                    FileHandle.standardError.write(Data("tegata: cannot read \(file)\n".utf8))
                    throw ExitCode(66)
                }
                let json = options.json
                let (batch, fromLine) = (batch, fromLine)
                let counts = try await options.with { operation in
                    var reader = Operator.ImportReader(handle, fromLine: fromLine)
                    var counts: [String: Int] = [:]
                    while true {
                        let lines = try reader.next(batch)
                        guard let first = lines.first else { break }
                        let results: [Operator.ImportLineResult]
                        do {
                            results = try await operation.importUsers(lines)
                        } catch {
                            FileHandle.standardError.write(Data("tegata: lines from \(first.number) were not imported; resume with --from-line \(first.number)\n".utf8))
                            throw error
                        }
                        var out = ""
                        for result in results {
                            counts[result.result, default: 0] += 1
                            if json {
                                out += String(decoding: try Operator.lineJSON(result), as: UTF8.self) + "\n"
                            } else if let reason = result.reason {
                                out += "line \(result.line): \(result.result): \(reason)\n"
                            }
                        }
                        FileHandle.standardOutput.write(Data(out.utf8))
                    }
                    return counts
                }
                if !json {
                    let summary = ["created", "updated", "unchanged", "conflict", "invalid"].map { "\($0) \(counts[$0, default: 0])" }
                    FileHandle.standardOutput.write(Data((summary.joined(separator: ", ") + "\n").utf8))
                }
                if counts["conflict", default: 0] + counts["invalid", default: 0] > 0 { throw ExitCode(65) }
            }
        }

        struct Find: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Find users, oldest first, a page at a time (every filter given must match).")
            @OptionGroup var options: OperatorOptions
            @Option(help: "With this linked identity's provider (needs --subject).") var provider: String?
            @Option(help: "With this linked identity's subject (needs --provider).") var subject: String?
            @Option(name: .customLong("device-id"), help: "The user this device is registered to.") var deviceID: String?
            @Option(name: .customLong("created-after"), help: "Created at or after this time (RFC 3339).") var createdAfter: String?
            @Option(name: .customLong("created-before"), help: "Created before this time (RFC 3339).") var createdBefore: String?
            @Option(help: "Continue after this cursor (printed as 'more: --cursor …').") var cursor: String?
            @Option(help: "At most this many (1 to 100; 50).") var limit: String?
            func run() async throws {
                var parameters: [String: String] = [:]
                parameters["provider"] = provider
                parameters["subject"] = subject
                parameters["device_id"] = deviceID
                parameters["created_after"] = createdAfter
                parameters["created_before"] = createdBefore
                parameters["cursor"] = cursor
                parameters["limit"] = limit
                try await options.run { [parameters] in try await $0.findUsers(parameters) }
            }
        }

        struct Disable: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Disable a user: no sign-in, no refresh; every session and access token ends now.",
                discussion: "Its devices stay registered: once enabled (or past --until) they sign in again.")
            @OptionGroup var options: OperatorOptions
            @Argument(help: "The user id.") var id: String
            @Option(help: "Until this time (RFC 3339, in the future); without it, until enabled.") var until: String?
            func validate() throws {
                if let until, rfc3339(until) == nil { throw ValidationError("--until must be an RFC 3339 time such as 2026-12-01T09:30:00Z") }
            }
            func run() async throws {
                let until = until.flatMap(rfc3339)
                try await options.run { try await $0.disable(id, until: until) }
            }
        }

        struct Enable: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Enable a disabled user: it can sign in again.")
            @OptionGroup var options: OperatorOptions
            @Argument(help: "The user id.") var id: String
            func run() async throws { try await options.run { try await $0.enable(id) } }
        }

        struct Revoke: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "End every session and access token of a user at once, and the devices of those sessions.")
            @OptionGroup var options: OperatorOptions
            @Argument(help: "The user id.") var id: String
            func run() async throws { try await options.run { try await $0.revoke(id) } }
        }

        struct Delete: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Delete a user and everything of it (an account-deletion request).")
            @OptionGroup var options: OperatorOptions
            @Argument(help: "The user id.") var id: String
            func run() async throws { try await options.run { try await $0.delete(id) } }
        }

        struct SetClaims: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "set-claims",
                abstract: "Replace a user's app claims: a JSON object of at most 1000 bytes; '{}' removes them.",
                discussion: "Tokens issued from then on (the next sign-in or refresh) carry them. docs/admin.md lists the reserved names.")
            @OptionGroup var options: OperatorOptions
            @Argument(help: "The user id.") var id: String
            @Argument(help: "The claims as JSON, or - to read them from standard input.") var claims: String
            func run() async throws {
                let json = claims == "-" ? FileHandle.standardInput.readDataToEndOfFile() : Data(claims.utf8)
                try await options.run { try await $0.setClaims(id, json: json) }
            }
        }
    }

    /// `tegata sessions …`.
    struct Sessions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List a user's sessions and end one.", subcommands: [List.self, Revoke.self])

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Every stored session of a user, ended ones too, oldest first.")
            @OptionGroup var options: OperatorOptions
            @Argument(help: "The user id.") var userID: String
            func run() async throws { try await options.run { try await $0.sessions(ofUser: userID) } }
        }

        struct Revoke: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "End one session (and the device registration that opened it).")
            @OptionGroup var options: OperatorOptions
            @Argument(help: "The session id.") var id: String
            func run() async throws { try await options.run { try await $0.endSession(id) } }
        }
    }

    /// `tegata keys …`.
    struct Keys: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the signing keys and rotate them.", subcommands: [List.self, Rotate.self])

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "The signing keys, oldest first: signing, next, published or retired.")
            @OptionGroup var options: OperatorOptions
            func run() async throws { try await options.run { try await $0.keys() } }
        }

        struct Rotate: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Publish a new signing key; it signs after the JWKS cache lifetime (or at once with --immediate).",
                discussion: "Running servers take it from the database at their next key reload (TEGATA_KEY_RELOAD_INTERVAL).")
            @OptionGroup var options: OperatorOptions
            @Flag(help: "Sign with the new key at once (verifiers with a cached JWKS refetch on the unknown kid).") var immediate = false
            func run() async throws { try await options.run { try await $0.rotateKey(immediate: immediate) } }
        }
    }
}
