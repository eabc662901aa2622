import TegataCore
import Testing

/// Which device registrations each logout scope ends, decided in the core without I/O.
@Suite struct LogoutScopeTests {
    @Test func aLocalLogoutKeepsEveryDevice() {
        for anonymous in [true, false] {
            #expect(SessionService.devicesEnded(by: .local, callerDevice: "d1", anonymous: anonymous) == .none)
            #expect(SessionService.devicesEnded(by: .local, callerDevice: nil, anonymous: anonymous) == .none)
        }
    }

    @Test func othersEndsEveryDeviceButTheCallers() {
        for anonymous in [true, false] {
            #expect(SessionService.devicesEnded(by: .others, callerDevice: "d1", anonymous: anonymous) == .allOfUser(keeping: "d1"))
            // Signed in by an identity (no device): every device goes.
            #expect(SessionService.devicesEnded(by: .others, callerDevice: nil, anonymous: anonymous) == .allOfUser(keeping: nil))
        }
    }

    @Test func globalKeepsTheCallersDeviceOnlyForAnAnonymousUser() {
        #expect(SessionService.devicesEnded(by: .global, callerDevice: "d1", anonymous: true) == .allOfUser(keeping: "d1"))
        #expect(SessionService.devicesEnded(by: .global, callerDevice: "d1", anonymous: false) == .allOfUser(keeping: nil))
        #expect(SessionService.devicesEnded(by: .global, callerDevice: nil, anonymous: false) == .allOfUser(keeping: nil))
    }
}
