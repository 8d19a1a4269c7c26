package main

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// connection is the decoded `connection` input (and, nested, its `proxy`).
type connection struct {
	User               string
	Password           *string
	Host               string
	Port               int
	PrivateKey         *string
	PrivateKeyPassword *string
	AgentSocketPath    *string
	DialErrorLimit     int
	PerDialTimeout     int
	HostKey            *string
	Proxy              *connection
}

type commandInputs struct {
	Create, Update, Delete *string
	Stdin                  *string
	Logging                string
	Environment            map[string]string
	AddPreviousOutputInEnv bool
	Connection             connection
}

type copyInputs struct {
	Connection connection
	Source     resource.PropertyValue
	RemotePath string
}

func (c copyInputs) hash() string {
	if c.Source.IsArchive() {
		return c.Source.ArchiveValue().Hash
	}
	if c.Source.IsAsset() {
		return c.Source.AssetValue().Hash
	}
	return ""
}

// plain strips secret markers: the provider needs the values themselves.
func plain(v resource.PropertyValue) resource.PropertyValue {
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	return v
}

func strPtr(m resource.PropertyMap, k string) (*string, error) {
	v, ok := m[resource.PropertyKey(k)]
	if !ok {
		return nil, nil
	}
	v = plain(v)
	if v.IsNull() {
		return nil, nil
	}
	if !v.IsString() {
		return nil, fmt.Errorf("%s: expected a string", k)
	}
	s := v.StringValue()
	return &s, nil
}

func intOr(m resource.PropertyMap, k string, def int) (int, error) {
	v, ok := m[resource.PropertyKey(k)]
	if !ok {
		return def, nil
	}
	v = plain(v)
	if v.IsNull() {
		return def, nil
	}
	if !v.IsNumber() {
		return 0, fmt.Errorf("%s: expected a number", k)
	}
	return int(v.NumberValue()), nil
}

func decodeConnection(v resource.PropertyValue) (connection, error) {
	v = plain(v)
	if !v.IsObject() {
		return connection{}, fmt.Errorf("connection: expected an object")
	}
	m := v.ObjectValue()
	var c connection
	var err error
	host, err := strPtr(m, "host")
	if err != nil || host == nil {
		return c, fmt.Errorf("connection: missing required property 'host'")
	}
	c.Host = *host
	user, err := strPtr(m, "user")
	if err != nil {
		return c, err
	}
	c.User = "root"
	if user != nil {
		c.User = *user
	}
	if c.Port, err = intOr(m, "port", 22); err != nil {
		return c, err
	}
	if c.DialErrorLimit, err = intOr(m, "dialErrorLimit", dialErrorDefault); err != nil {
		return c, err
	}
	if c.PerDialTimeout, err = intOr(m, "perDialTimeout", 15); err != nil {
		return c, err
	}
	for k, dst := range map[string]**string{
		"password": &c.Password, "privateKey": &c.PrivateKey, "privateKeyPassword": &c.PrivateKeyPassword,
		"agentSocketPath": &c.AgentSocketPath, "hostKey": &c.HostKey,
	} {
		if *dst, err = strPtr(m, k); err != nil {
			return c, err
		}
	}
	if p, ok := m["proxy"]; ok && !plain(p).IsNull() {
		proxy, err := decodeConnection(p)
		if err != nil {
			return c, fmt.Errorf("proxy: %w", err)
		}
		c.Proxy = &proxy
	}
	return c, nil
}

func decodeCommand(m resource.PropertyMap) (commandInputs, error) {
	var c commandInputs
	var err error
	for k, dst := range map[string]**string{"create": &c.Create, "update": &c.Update, "delete": &c.Delete, "stdin": &c.Stdin} {
		if *dst, err = strPtr(m, k); err != nil {
			return c, err
		}
	}
	c.Logging = "stdoutAndStderr"
	if l, err := strPtr(m, "logging"); err != nil {
		return c, err
	} else if l != nil {
		c.Logging = *l
	}
	c.AddPreviousOutputInEnv = true
	if v, ok := m["addPreviousOutputInEnv"]; ok && plain(v).IsBool() {
		c.AddPreviousOutputInEnv = plain(v).BoolValue()
	}
	if v, ok := m["environment"]; ok && plain(v).IsObject() {
		c.Environment = map[string]string{}
		for k, e := range plain(v).ObjectValue() {
			e = plain(e)
			if !e.IsString() {
				return c, fmt.Errorf("environment.%s: expected a string", k)
			}
			c.Environment[string(k)] = e.StringValue()
		}
	}
	conn, ok := m["connection"]
	if !ok {
		return c, fmt.Errorf("missing required property 'connection'")
	}
	if c.Connection, err = decodeConnection(conn); err != nil {
		return c, err
	}
	return c, nil
}

func decodeCopy(m resource.PropertyMap) (copyInputs, error) {
	var c copyInputs
	conn, ok := m["connection"]
	if !ok {
		return c, fmt.Errorf("missing required property 'connection'")
	}
	var err error
	if c.Connection, err = decodeConnection(conn); err != nil {
		return c, err
	}
	rp, err := strPtr(m, "remotePath")
	if err != nil || rp == nil {
		return c, fmt.Errorf("missing required property 'remotePath'")
	}
	c.RemotePath = *rp
	c.Source = plain(m["source"])
	if !c.Source.IsAsset() && !c.Source.IsArchive() {
		return c, fmt.Errorf("source: either asset or archive must be set")
	}
	return c, nil
}
