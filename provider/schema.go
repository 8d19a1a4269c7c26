package main

// schemaJSON: the part of the official schema the engine and tools may ask for: the two
// resources, `triggers` replacing on change, `connection` secret.
const schemaJSON = `{
  "name": "command",
  "version": "1.2.1",
  "description": "Offline stand-in for the Pulumi Command Provider (remote.Command and remote.CopyToRemote).",
  "resources": {
    "command:remote:Command": {
      "inputProperties": {
        "connection": {"$ref": "#/types/command:remote:Connection", "secret": true},
        "create": {"type": "string"}, "update": {"type": "string"}, "delete": {"type": "string"},
        "stdin": {"type": "string"}, "logging": {"type": "string"},
        "environment": {"type": "object", "additionalProperties": {"type": "string"}},
        "addPreviousOutputInEnv": {"type": "boolean"},
        "triggers": {"type": "array", "items": {"$ref": "pulumi.json#/Any"}, "replaceOnChanges": true}
      },
      "requiredInputs": ["connection"],
      "properties": {
        "connection": {"$ref": "#/types/command:remote:Connection", "secret": true},
        "stdout": {"type": "string"}, "stderr": {"type": "string"}
      },
      "required": ["connection", "stdout", "stderr"]
    },
    "command:remote:CopyToRemote": {
      "inputProperties": {
        "connection": {"$ref": "#/types/command:remote:Connection", "secret": true},
        "source": {"$ref": "pulumi.json#/Any"},
        "remotePath": {"type": "string"},
        "triggers": {"type": "array", "items": {"$ref": "pulumi.json#/Any"}, "replaceOnChanges": true}
      },
      "requiredInputs": ["connection", "source", "remotePath"]
    }
  },
  "types": {
    "command:remote:Connection": {
      "type": "object",
      "properties": {
        "host": {"type": "string"}, "port": {"type": "number", "default": 22}, "user": {"type": "string", "default": "root"},
        "password": {"type": "string", "secret": true}, "privateKey": {"type": "string", "secret": true},
        "privateKeyPassword": {"type": "string", "secret": true}, "agentSocketPath": {"type": "string"},
        "dialErrorLimit": {"type": "integer", "default": 10}, "perDialTimeout": {"type": "integer", "default": 15},
        "hostKey": {"type": "string"}, "proxy": {"type": "object"}
      },
      "required": ["host"]
    }
  }
}`
