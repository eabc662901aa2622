import HTTPTypes
import Hummingbird
import Logging

/// Sets the request's client address (``ClientAddressResolver``): the socket's peer, or behind a
/// trusted proxy the right-most untrusted hop of its forwarding field. It goes in the context and
/// in the request's log metadata (`client`).
struct ClientAddressMiddleware: RouterMiddleware {
    typealias Context = TegataRequestContext
    let resolver: ClientAddressResolver
    let fieldName: HTTPField.Name

    init(resolver: ClientAddressResolver) {
        self.resolver = resolver
        fieldName = HTTPField.Name(resolver.field == .forwarded ? "Forwarded" : "X-Forwarded-For")!
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let address = resolver.resolve(peer: context.peer, fieldValues: request.headers[values: fieldName])
        context.clientAddress = address
        if let address { context.logger[metadataKey: "client"] = .stringConvertible(address) }
        return try await next(request, context)
    }
}
