/// What is known about where an address is: its scope always; country, city and autonomous system only for
/// `public` addresses, and only as far as the loaded databases know them.
public struct GeoInfo: Hashable, Sendable, Codable {
    public var scope: AddressScope
    /// ISO 3166-1 alpha-2, upper case ("US"); some sources also use "EU" or "AP" for unassigned regional blocks.
    public var countryCode: String?
    /// The English country name, where the database has one (the tor range files do not).
    public var countryName: String?
    /// The English city name.
    public var city: String?
    /// The autonomous system number announcing the address.
    public var asn: UInt32?
    /// The organisation behind `asn` ("Google LLC").
    public var organization: String?

    public init(
        scope: AddressScope,
        countryCode: String? = nil,
        countryName: String? = nil,
        city: String? = nil,
        asn: UInt32? = nil,
        organization: String? = nil
    ) {
        self.scope = scope
        self.countryCode = countryCode
        self.countryName = countryName
        self.city = city
        self.asn = asn
        self.organization = organization
    }

    /// True when no database knew anything about the address (always true when it is not public).
    public var isEmpty: Bool {
        countryCode == nil && countryName == nil && city == nil && asn == nil && organization == nil
    }

    /// One short phrase for reports: "US, Mountain View, AS15169 Google LLC"; the scope ("private", "loopback",
    /// ...) for addresses that are not public; "public" for a public address no database knows.
    public var label: String {
        guard scope == .public else { return scope.rawValue }
        var parts: [String] = []
        if let place = countryCode ?? countryName { parts.append(place) }
        if let city { parts.append(city) }
        switch (asn, organization) {
        case (let asn?, let organization?): parts.append("AS\(asn) \(organization)")
        case (let asn?, nil): parts.append("AS\(asn)")
        case (nil, let organization?): parts.append(organization)
        case (nil, nil): break
        }
        return parts.isEmpty ? scope.rawValue : parts.joined(separator: ", ")
    }
}
