import Foundation
import Hummingbird
import TegataCore
import TegataWire

/// `POST /v1/devices/check`: whether a device is registered to a user, for resource-server clients
/// (HTTP Basic) migrating off legacy `device-id` + `user-id` headers. Answers only yes or no.
struct DeviceCheckController {
    let devices: any AccountStore
    let clients: ResourceServerClients
    let bodyLimit: Int

    func register(on routes: TegataRoutes) {
        let clients = clients
        let devices = devices
        let limit = bodyLimit

        routes.open.post("/v1/devices/check") { request, _ in
            _ = try request.authenticateResourceServer(clients)
            let body = try await request.decodeJSON(DeviceCheckRequest.self, limit: limit)
            guard WireIdentifier.isDeviceID(body.deviceID) else {
                throw TegataError.invalidRequest("device_id must be 8 to 128 characters of A-Z a-z 0-9 . _ : -")
            }
            guard WireIdentifier.isUserID(body.userID) else {
                throw TegataError.invalidRequest("user_id must be 1 to 128 characters of A-Z a-z 0-9 . _ : -")
            }
            let owner = try await devices.deviceOwner(deviceID: body.deviceID)
            return try JSONResponse.make(DeviceCheckResponse(registered: owner == body.userID))
        }
    }
}
