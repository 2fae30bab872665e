package webhook

// EndpointMTLS is what an endpoint's deliveries present and trust over TLS
// (Svix's EndpointMtlsConfigIn, with the hookd extension serverCaCert). It
// is stored sealed, like secrets.
type EndpointMTLS struct {
	// Identity is a PEM private key and its PEM certificate (optionally
	// followed by intermediates), presented when the receiver asks for a
	// client certificate; "" presents none.
	Identity string `json:"identity,omitempty"`
	// ServerCACert holds PEM certificates that the receiver's server
	// certificate must chain to, instead of the system's roots; "" trusts
	// the system's roots.
	ServerCACert string `json:"serverCaCert,omitempty"`
}

// EndpointOAuth is an endpoint's OAuth2 client configuration (Svix's
// EndpointOauthConfigIn): every delivery carries a bearer token obtained
// with it. It holds secrets (ClientSecret, RefreshToken, JWT) and is stored
// sealed; the API never shows them. Its rules are checked by the adapter
// that uses it (package oauth).
type EndpointOAuth struct {
	GrantType    string            `json:"grantType"`  // "clientCredentials" or "refreshToken"
	AuthMethod   string            `json:"authMethod"` // "clientSecretBasic", "clientSecretPost" or "clientSecretJwt"
	ClientID     string            `json:"clientId"`
	ClientSecret string            `json:"clientSecret,omitempty"`
	TokenURL     string            `json:"tokenUrl"`
	Scopes       []string          `json:"scopes,omitempty"`
	ExtraParams  map[string]string `json:"extraParams,omitempty"`
	ExtraHeaders map[string]string `json:"extraHeaders,omitempty"`
	// RefreshToken is the refreshToken grant's current token; a token the
	// authorization server rotates replaces it.
	RefreshToken string            `json:"refreshToken,omitempty"`
	JWT          *EndpointOAuthJWT `json:"jwtParams,omitempty"`
}

// EndpointOAuthJWT makes the client assertion of clientSecretJwt (Svix's
// ClientSecretJwtParamsIn).
type EndpointOAuthJWT struct {
	SecretBase64     string `json:"secretBase64"`
	SigningAlgorithm string `json:"signingAlgorithm"`
	SecretID         string `json:"secretId,omitempty"`
	// TokenExpirySecs is the assertion's lifetime; 0 means 300 seconds.
	TokenExpirySecs int64 `json:"tokenExpirySecs,omitempty"`
}
