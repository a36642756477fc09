/* libkreconcile-testserver — kube-apiserver's printers for built-in kinds
 * (wire spec §1.9): the columns and cells of the Table that `kubectl get`
 * prints, computed from the object as stored, with the column types
 * kube-apiserver declares (a count is sent as an integer even where its
 * column is declared a string), and for kinds without a printer of their
 * own the apiserver's default convertor (Name, Created At). The server
 * prints every column, as the apiserver's table convertor does; kubectl
 * hides those of priority 1 unless asked for -o wide. Ages are Go's
 * HumanDuration. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testserver/ts_internal.h"

static const char NAME_DESC[] =
    "Name must be unique within a namespace. Is required when creating resources, although some "
    "resources may allow a client to request the generation of an appropriate name "
    "automatically. Name is primarily intended for creation idempotence and configuration "
    "definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const char ts_creation_timestamp_desc[] =
    "CreationTimestamp is a timestamp representing the server time when this object was "
    "created. It is not guaranteed to be set in happens-before order across separate "
    "operations. Clients may not set this value. It is represented in RFC3339 form and is in "
    "UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/"
    "api-conventions.md#metadata";

/* The API reference's descriptions of the fields behind the columns, as
 * kube-apiserver sends them in columnDefinitions. */
/* A column definition; a NULL name ends a printer's list. */
typedef struct {
    const char *name, *type, *format, *desc;
    int priority;
} column_def;

#define NAME_COL                                                                                   \
    {                                                                                              \
        "Name", "string", "name", NAME_DESC, 0                                                     \
    }
#define AGE_COL                                                                                    \
    {                                                                                              \
        "Age", "string", "", ts_creation_timestamp_desc, 0                                         \
    }
#define CONTAINERS_COLS                                                                            \
    {"Containers", "string", "", "Names of each container in the template.", 1},                   \
    {                                                                                              \
        "Images", "string", "", "Images referenced by each container in the template.", 1          \
    }
#define SELECTOR_COL                                                                               \
    {                                                                                              \
        "Selector", "string", "", "A label query over pods that should match the pod count.", 1    \
    }
#define END_COLS                                                                                   \
    {                                                                                              \
        NULL, NULL, NULL, NULL, 0                                                                  \
    }

static const column_def CUSTOM_COLS[] = {NAME_COL, END_COLS}; /* then the CRD's */
static const column_def CONFIGMAP_COLS[] = {
    NAME_COL,
    {"Data", "string", "", "Data contains the configuration data.", 0},
    AGE_COL,
    END_COLS};
static const column_def SECRET_COLS[] = {
    NAME_COL,
    {"Type", "string", "", "Used to facilitate programmatic handling of secret data.", 0},
    {"Data", "string", "", "Data contains the secret data.", 0},
    AGE_COL,
    END_COLS};
static const column_def NAMESPACE_COLS[] = {
    NAME_COL, {"Status", "string", "", "The status of the namespace", 0}, AGE_COL, END_COLS};
static const column_def LEASE_COLS[] = {
    NAME_COL, {"Holder", "string", "", "The holder of the lease", 0}, AGE_COL, END_COLS};
static const column_def DEPLOYMENT_COLS[] = {
    NAME_COL,
    {"Ready", "string", "", "Number of the pod with ready state", 0},
    {"Up-to-date", "string", "",
     "Total number of non-terminated pods targeted by this deployment that have the desired "
     "template spec.",
     0},
    {"Available", "string", "",
     "Total number of available pods (ready for at least minReadySeconds) targeted by this "
     "deployment.",
     0},
    AGE_COL,
    CONTAINERS_COLS,
    SELECTOR_COL,
    END_COLS};
static const column_def JOB_COLS[] = {
    NAME_COL,
    {"Status", "string", "", "Status of the job.", 0},
    {"Completions", "string", "", "The number of pods which reached phase Succeeded.", 0},
    {"Duration", "string", "", "Time required to complete the job.", 0},
    AGE_COL,
    CONTAINERS_COLS,
    SELECTOR_COL,
    END_COLS};
static const column_def POD_COLS[] = {
    NAME_COL,
    {"Ready", "string", "", "The aggregate readiness state of this pod for accepting traffic.", 0},
    {"Status", "string", "", "The aggregate status of the containers in this pod.", 0},
    {"Restarts", "string", "",
     "The number of times the containers in this pod have been restarted and when the last "
     "container in this pod has restarted.",
     0},
    AGE_COL,
    {"IP", "string", "",
     "podIP address allocated to the pod. Routable at least within the cluster. Empty if not "
     "yet allocated.",
     1},
    {"Node", "string", "",
     "NodeName indicates in which node this pod is scheduled. If empty, this pod is a "
     "candidate for preemption by the scheduler.",
     1},
    {"Nominated Node", "string", "",
     "nominatedNodeName is set only when this pod preempts other pods on the node, but it "
     "cannot be scheduled right away as preemption victims receive their graceful termination "
     "periods.",
     1},
    {"Readiness Gates", "string", "",
     "If specified, all readiness gates will be evaluated for pod readiness.", 1},
    END_COLS};
static const column_def SERVICE_COLS[] = {
    NAME_COL,
    {"Type", "string", "",
     "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are "
     "ExternalName, ClusterIP, NodePort, and LoadBalancer.",
     0},
    {"Cluster-IP", "string", "",
     "clusterIP is the IP address of the service and is usually assigned randomly.", 0},
    {"External-IP", "string", "",
     "externalIPs is a list of IP addresses for which nodes in the cluster will also accept "
     "traffic for this service.",
     0},
    {"Port(s)", "string", "", "The list of ports that are exposed by this service.", 0},
    AGE_COL,
    {"Selector", "string", "",
     "Route service traffic to pods with label keys and values matching this selector.", 1},
    END_COLS};
static const column_def REPLICASET_COLS[] = {
    NAME_COL,
    {"Desired", "integer", "", "Replicas is the number of desired pods. Defaults to 1.", 0},
    {"Current", "integer", "", "Replicas is the most recently observed number of replicas.", 0},
    {"Ready", "integer", "", "The number of ready replicas for this replica set.", 0},
    AGE_COL,
    CONTAINERS_COLS,
    SELECTOR_COL,
    END_COLS};
static const column_def STATEFULSET_COLS[] = {
    NAME_COL,
    {"Ready", "string", "", "Number of the pod with ready state", 0},
    AGE_COL,
    CONTAINERS_COLS,
    END_COLS};
static const column_def DAEMONSET_COLS[] = {
    NAME_COL,
    {"Desired", "integer", "",
     "The total number of nodes that should be running the daemon pod (including nodes "
     "correctly running the daemon pod).",
     0},
    {"Current", "integer", "",
     "The number of nodes that are running at least 1 daemon pod and are supposed to run the "
     "daemon pod.",
     0},
    {"Ready", "integer", "",
     "The number of nodes that should be running the daemon pod and have one or more of the "
     "daemon pod running and ready.",
     0},
    {"Up-to-date", "integer", "", "The total number of nodes that are running updated daemon pod",
     0},
    {"Available", "integer", "",
     "The number of nodes that should be running the daemon pod and have one or more of the "
     "daemon pod running and available (ready for at least spec.minReadySeconds)",
     0},
    {"Node Selector", "string", "",
     "NodeSelector is a selector which must be true for the pod to fit on a node.", 0},
    AGE_COL,
    CONTAINERS_COLS,
    {"Selector", "string", "",
     "A label query over pods that are managed by the daemon set. Must match in order to be "
     "controlled.",
     1},
    END_COLS};
/* an Event's name comes last, at priority 1 */
static const column_def EVENT_COLS[] = {
    {"Last Seen", "string", "",
     "The time at which the most recent occurrence of this event was recorded.", 0},
    {"Type", "string", "",
     "Type of this event (Normal, Warning), new types could be added in the future", 0},
    {"Reason", "string", "",
     "This should be a short, machine understandable string that gives the reason for the "
     "transition into the object's current status.",
     0},
    {"Object", "string", "", "The object that this event is about.", 0},
    {"Subobject", "string", "",
     "If referring to a piece of an object instead of an entire object, this string should "
     "contain a valid JSON/Go field access statement.",
     1},
    {"Source", "string", "",
     "The component reporting this event. Should be a short machine understandable string.", 1},
    {"Message", "string", "", "A human-readable description of the status of this operation.", 0},
    {"First Seen", "string", "",
     "The time at which the event was first recorded. (Time of server receipt is in "
     "TypeMeta.)",
     1},
    {"Count", "string", "", "The number of times this event has occurred.", 1},
    {"Name", "string", "name", NAME_DESC, 1},
    END_COLS};
static const column_def NODE_COLS[] = {
    NAME_COL,
    {"Status", "string", "", "The status of the node", 0},
    {"Roles", "string", "", "The roles of the node", 0},
    AGE_COL,
    {"Version", "string", "", "Kubelet Version reported by the node.", 0},
    {"Internal-IP", "string", "", "The node's first InternalIP address.", 1},
    {"External-IP", "string", "", "The node's first ExternalIP address.", 1},
    {"OS-Image", "string", "", "OS Image reported by the node from /etc/os-release.", 1},
    {"Kernel-Version", "string", "", "Kernel Version reported by the node from 'uname -r'.", 1},
    {"Container-Runtime", "string", "",
     "ContainerRuntime Version reported by the node through runtime remote API.", 1},
    END_COLS};

static const column_def SERVICEACCOUNT_COLS[] = {
    NAME_COL,
    {"Secrets", "string", "",
     "Secrets is a list of the secrets in the same namespace that pods running using this "
     "ServiceAccount are allowed to use.",
     0},
    AGE_COL,
    END_COLS};
static const column_def ENDPOINTS_COLS[] = {
    NAME_COL,
    {"Endpoints", "string", "",
     "The set of all endpoints is the union of all subsets. Addresses are placed into subsets "
     "according to the IPs they share.",
     0},
    AGE_COL,
    END_COLS};
static const column_def CRONJOB_COLS[] = {
    NAME_COL,
    {"Schedule", "string", "", "The schedule in Cron format.", 0},
    {"Timezone", "string", "", "The time zone name for the given schedule.", 0},
    {"Suspend", "boolean", "",
     "This flag tells the controller to suspend subsequent executions, it does not apply to "
     "already started executions.",
     0},
    {"Active", "integer", "", "A list of pointers to currently running jobs.", 0},
    {"Last Schedule", "string", "",
     "Information when was the last time the job was successfully scheduled.", 0},
    AGE_COL,
    CONTAINERS_COLS,
    {"Selector", "string", "", "A label query over pods that should match the pod count.", 1},
    END_COLS};
static const column_def PDB_COLS[] = {
    NAME_COL,
    {"Min Available", "string", "", "The minimum number of pods that must be available.", 0},
    {"Max Unavailable", "string", "", "The maximum number of pods that may be unavailable.", 0},
    {"Allowed Disruptions", "integer", "",
     "Calculated number of pods that may be disrupted at this time.", 0},
    AGE_COL,
    END_COLS};
static const column_def INGRESS_COLS[] = {
    NAME_COL,
    {"Class", "string", "",
     "The name of the IngressClass resource that should be used for additional configuration", 0},
    {"Hosts", "string", "",
     "Hosts that incoming requests are matched against before the ingress rule", 0},
    {"Address", "string", "", "Address is a list containing ingress points for the load-balancer",
     0},
    {"Ports", "string", "", "Ports of TLS configurations that open", 0},
    AGE_COL,
    END_COLS};
static const column_def NETWORKPOLICY_COLS[] = {
    NAME_COL,
    {"Pod-Selector", "string", "", "Selects the pods to which this NetworkPolicy object applies.",
     0},
    AGE_COL,
    END_COLS};
static const column_def ROLEBINDING_COLS[] = {
    NAME_COL,
    {"Role", "string", "",
     "RoleRef can reference a Role in the current namespace or a "
     "ClusterRole in the global namespace.",
     0},
    AGE_COL,
    {"Users", "string", "", "Users in the roleBinding", 1},
    {"Groups", "string", "", "Groups in the roleBinding", 1},
    {"ServiceAccounts", "string", "", "ServiceAccounts in the roleBinding", 1},
    END_COLS};
static const column_def PRIORITYCLASS_COLS[] = {
    NAME_COL,
    {"Value", "integer", "", "value represents the integer value of this priority class.", 0},
    {"Global-Default", "boolean", "",
     "globalDefault specifies whether this PriorityClass should be considered as the default "
     "priority for pods that do not have any priority class.",
     0},
    AGE_COL,
    {"PreemptionPolicy", "string", "",
     "preemptionPolicy is the Policy for preempting pods with lower priority.", 0},
    END_COLS};
static const column_def APISERVICE_COLS[] = {
    NAME_COL,
    {"Service", "string", "", "The reference to the service that hosts this API endpoint.", 0},
    {"Available", "string", "", "Whether this service is available.", 0},
    AGE_COL,
    END_COLS};
static const column_def RESOURCEQUOTA_COLS[] = {
    NAME_COL,
    AGE_COL,
    {"Request", "string", "",
     "Request represents a minimum amount of cpu/memory that a container may consume.", 0},
    {"Limit", "string", "",
     "Limits control the maximum amount of cpu/memory that a container may use independent "
     "of contention on the node.",
     0},
    END_COLS};
static const column_def PV_COLS[] = {
    NAME_COL,
    {"Capacity", "string", "",
     "capacity is the description of the persistent volume's "
     "resources and capacity.",
     0},
    {"Access Modes", "string", "", "accessModes contains all ways the volume can be mounted.", 0},
    {"Reclaim Policy", "string", "",
     "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released "
     "from its claim.",
     0},
    {"Status", "string", "",
     "phase indicates if a volume is available, bound to a claim, or "
     "released by a claim.",
     0},
    {"Claim", "string", "",
     "claimRef is part of a bi-directional binding between "
     "PersistentVolume and PersistentVolumeClaim.",
     0},
    {"StorageClass", "string", "", "StorageClass of the pv", 0},
    {"VolumeAttributesClass", "string", "", "VolumeAttributesClass of the pv", 0},
    {"Reason", "string", "",
     "reason is a brief CamelCase string that describes any failure "
     "and is meant for machine parsing and tidy display in the CLI.",
     0},
    AGE_COL,
    {"VolumeMode", "string", "",
     "volumeMode defines if a volume is intended to be used with "
     "a formatted filesystem or to remain in raw block state.",
     1},
    END_COLS};
static const column_def PVC_COLS[] = {
    NAME_COL,
    {"Status", "string", "", "phase represents the current phase of PersistentVolumeClaim.", 0},
    {"Volume", "string", "",
     "volumeName is the binding reference to the PersistentVolume "
     "backing this claim.",
     0},
    {"Capacity", "string", "",
     "capacity represents the actual resources of the underlying "
     "volume.",
     0},
    {"Access Modes", "string", "",
     "accessModes contains the actual access modes the volume "
     "backing the PVC has.",
     0},
    {"StorageClass", "string", "", "StorageClass of the pvc", 0},
    {"VolumeAttributesClass", "string", "", "VolumeAttributesClass of the pvc", 0},
    AGE_COL,
    {"VolumeMode", "string", "",
     "volumeMode defines what type of volume is required by the "
     "claim.",
     1},
    END_COLS};
static const column_def PODTEMPLATE_COLS[] = {
    NAME_COL,
    {"Containers", "string", "", "Names of each container in the template.", 0},
    {"Images", "string", "", "Images referenced by each container in the template.", 0},
    {"Pod Labels", "string", "", "The labels for the pod template.", 0},
    END_COLS};
static const column_def CONTROLLERREVISION_COLS[] = {
    NAME_COL,
    {"Controller", "string", "", "Controller of the object", 0},
    {"Revision", "string", "", "Revision indicates the revision of the state represented by Data.",
     0},
    AGE_COL,
    END_COLS};
static const column_def HPA_COLS[] = {
    NAME_COL,
    {"Reference", "string", "",
     "scaleTargetRef points to the target resource to scale, and is used to the pods for which "
     "metrics should be collected, as well as to actually change the replica count.",
     0},
    {"Targets", "string", "",
     "metrics contains the specifications for which to use to calculate the desired replica "
     "count (the maximum replica count across all metrics will be used).  The desired replica "
     "count is calculated multiplying the ratio between the target value and the current value "
     "by the current number of pods.  Ergo, metrics used must decrease as the pod count is "
     "increased, and vice-versa.  See the individual metric source types for more information "
     "about how each type of metric must respond.",
     0},
    {"MinPods", "string", "",
     "minReplicas is the lower limit for the number of replicas to which the autoscaler can "
     "scale down.  It defaults to 1 pod.  minReplicas is allowed to be 0 if the alpha feature "
     "gate HPAScaleToZero is enabled and at least one Object or External metric is configured.  "
     "Scaling is active as long as at least one metric value is available.",
     0},
    {"MaxPods", "string", "",
     "maxReplicas is the upper limit for the number of replicas to which the autoscaler can "
     "scale up. It cannot be less that minReplicas.",
     0},
    {"Replicas", "string", "",
     "currentReplicas is current number of replicas of pods managed by this autoscaler, as last "
     "seen by the autoscaler.",
     0},
    AGE_COL,
    END_COLS};
static const column_def ENDPOINTSLICE_COLS[] = {
    NAME_COL,
    {"AddressType", "string", "",
     "addressType specifies the type of address carried by this EndpointSlice. All addresses in "
     "this slice must be the same type. This field is immutable after creation. The following "
     "address types are currently supported: * IPv4: Represents an IPv4 Address. * IPv6: "
     "Represents an IPv6 Address. * FQDN: Represents a Fully Qualified Domain Name.",
     0},
    {"Ports", "string", "",
     "ports specifies the list of network ports exposed by each endpoint in this slice. Each port "
     "must have a unique name. When ports is empty, it indicates that there are no defined "
     "ports. When a port is defined with a nil port value, it indicates \"all ports\". Each "
     "slice may include a maximum of 100 ports.",
     0},
    {"Endpoints", "string", "",
     "endpoints is a list of unique endpoints in this slice. Each slice may include a maximum of "
     "1000 endpoints.",
     0},
    AGE_COL,
    END_COLS};
static const column_def INGRESSCLASS_COLS[] = {
    NAME_COL,
    {"Controller", "string", "", "Controller that is responsible for handling this class", 0},
    {"Parameters", "string", "", "A reference to a resource with additional parameters", 0},
    AGE_COL,
    END_COLS};
static const column_def STORAGECLASS_COLS[] = {
    NAME_COL,
    {"Provisioner", "string", "", "provisioner indicates the type of the provisioner.", 0},
    {"ReclaimPolicy", "string", "",
     "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of "
     "this storage class. Defaults to Delete.",
     0},
    {"VolumeBindingMode", "string", "",
     "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.  "
     "When unset, VolumeBindingImmediate is used. This field is only honored by servers that "
     "enable the VolumeScheduling feature.",
     0},
    {"AllowVolumeExpansion", "string", "",
     "allowVolumeExpansion shows whether the storage class allow volume expand.", 0},
    AGE_COL,
    END_COLS};
/* the apiserver looks the Handler's description up in ObjectMeta's
 * documentation, which has none: it is sent empty */
static const column_def RUNTIMECLASS_COLS[] = {
    NAME_COL, {"Handler", "string", "", "", 0}, AGE_COL, END_COLS};
static const column_def WEBHOOKS_COLS[] = {
    NAME_COL,
    {"Webhooks", "integer", "",
     "Webhooks indicates the number of webhooks registered in this configuration", 0},
    AGE_COL,
    END_COLS};
static const column_def REPLICATIONCONTROLLER_COLS[] = {
    NAME_COL,
    {"Desired", "integer", "",
     "Replicas is the number of desired replicas. This is a pointer to distinguish between "
     "explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/c"
     "oncepts/workloads/controllers/replicationcontroller#what-is-a-replicationcontroller",
     0},
    {"Current", "integer", "",
     "Replicas is the most recently observed number of replicas. More info: https://kuberne"
     "tes.io/docs/concepts/workloads/controllers/replicationcontroller#what-is-a-replicatio"
     "ncontroller",
     0},
    {"Ready", "integer", "", "The number of ready replicas for this replication controller.", 0},
    AGE_COL,
    CONTAINERS_COLS,
    {"Selector", "string", "",
     "Selector is a label query over pods that should match the Replicas count. If Selector"
     " is empty, it is defaulted to the labels present on the Pod template. Label keys and "
     "values that must match in order to be controlled by this replication controller, if e"
     "mpty defaulted to labels on Pod template. More info: https://kubernetes.io/docs/conce"
     "pts/overview/working-with-objects/labels/#label-selectors",
     1},
    END_COLS};
static const column_def CSR_COLS[] = {
    NAME_COL,
    AGE_COL,
    {"SignerName", "string", "",
     "Requested signer for the request. It is a qualified name in the form: `scope-hostname"
     ".io/name`. If empty, it will be defaulted:\n 1. If it's a kubelet client certificate,"
     " it is assigned\n    \"kubernetes.io/kube-apiserver-client-kubelet\".\n 2. If it's a "
     "kubelet serving certificate, it is assigned\n    \"kubernetes.io/kubelet-serving\".\n"
     " 3. Otherwise, it is assigned \"kubernetes.io/legacy-unknown\".\nDistribution of trus"
     "t for signers happens out of band. You can select on this field using `spec.signerNam"
     "e`.",
     0},
    {"Requestor", "string", "", "Base64-encoded PKCS#10 CSR data", 0},
    {"RequestedDuration", "string", "",
     "expirationSeconds is the requested duration of validity of the issued certificate. Th"
     "e certificate signer may issue a certificate with a different validity duration so a "
     "client must check the delta between the notBefore and and notAfter fields in the issu"
     "ed certificate to determine the actual duration.\n\nThe v1.22+ in-tree implementation"
     "s of the well-known Kubernetes signers will honor this field as long as the requested"
     " duration is not greater than the maximum duration they will honor per the --cluster-"
     "signing-duration CLI flag to the Kubernetes controller manager.\n\nCertificate signer"
     "s may not honor this field for various reasons:\n\n  1. Old signer that is unaware of"
     " the field (such as the in-tree\n     implementations prior to v1.22)\n  2. Signer wh"
     "ose configured maximum is shorter than the requested duration\n  3. Signer whose conf"
     "igured minimum is longer than the requested duration\n\nThe minimum valid value for e"
     "xpirationSeconds is 600, i.e. 10 minutes.",
     0},
    {"Condition", "string", "", "Conditions applied to the request, such as approval or denial.",
     0},
    END_COLS};
static const column_def VOLUMEATTACHMENT_COLS[] = {
    NAME_COL,
    {"Attacher", "string", "name",
     "attacher indicates the name of the volume driver that MUST handle this request. This "
     "is the name returned by GetPluginName().",
     0},
    {"PV", "string", "",
     "persistentVolumeName represents the name of the persistent volume to attach.", 0},
    {"Node", "string", "", "nodeName represents the node that the volume should be attached to.",
     0},
    {"Attached", "boolean", "",
     "attached indicates the volume is successfully attached. This field must only be set b"
     "y the entity completing the attach operation, i.e. the external-attacher.",
     0},
    AGE_COL,
    END_COLS};
static const column_def CSINODE_COLS[] = {
    NAME_COL,
    {"Drivers", "integer", "", "Drivers indicates the number of CSI drivers registered on the node",
     0},
    AGE_COL,
    END_COLS};
static const column_def CSIDRIVER_COLS[] = {
    NAME_COL,
    {"AttachRequired", "boolean", "",
     "attachRequired indicates this CSI volume driver requires an attach operation (because"
     " it implements the CSI ControllerPublishVolume() method), and that the Kubernetes att"
     "ach detach controller should call the attach volume interface which checks the volume"
     "attachment status and waits until the volume is attached before proceeding to mountin"
     "g. The CSI external-attacher coordinates with CSI volume driver and updates the volum"
     "eattachment status when the attach operation is complete. If the CSIDriverRegistry fe"
     "ature gate is enabled and the value is specified to false, the attach operation will "
     "be skipped. Otherwise the attach operation will be called.\n\nThis field is immutable"
     ".",
     0},
    {"PodInfoOnMount", "boolean", "",
     "podInfoOnMount indicates this CSI volume driver requires additional pod information ("
     "like podName, podUID, etc.) during mount operations, if set to true. If set to false,"
     " pod information will not be passed on mount. Default is false.\n\nThe CSI driver spe"
     "cifies podInfoOnMount as part of driver deployment. If true, Kubelet will pass pod in"
     "formation as VolumeContext in the CSI NodePublishVolume() calls. The CSI driver is re"
     "sponsible for parsing and validating the information passed in as VolumeContext.\n\nT"
     "he following VolumeContext will be passed if podInfoOnMount is set to true. This list"
     " might grow, but the prefix will be used. \"csi.storage.k8s.io/pod.name\": pod.Name "
     "\"csi.storage.k8s.io/pod.namespace\": pod.Namespace \"csi.storage.k8s.io/pod.uid\": s"
     "tring(pod.UID) \"csi.storage.k8s.io/ephemeral\": \"true\" if the volume is an ephemer"
     "al inline volume\n                                defined by a CSIVolumeSource, other"
     "wise \"false\"\n\n\"csi.storage.k8s.io/ephemeral\" is a new feature in Kubernetes 1.1"
     "6. It is only required for drivers which support both the \"Persistent\" and \"Epheme"
     "ral\" VolumeLifecycleMode. Other drivers can leave pod info disabled and/or ignore th"
     "is field. As Kubernetes 1.15 doesn't support this field, drivers can only support one"
     " mode when deployed on such a cluster and the deployment determines which mode that i"
     "s, for example via a command line parameter of the driver.\n\nThis field was immutabl"
     "e in Kubernetes < 1.29 and now is mutable.",
     0},
    {"StorageCapacity", "boolean", "",
     "storageCapacity indicates that the CSI volume driver wants pod scheduling to consider"
     " the storage capacity that the driver deployment will report by creating CSIStorageCa"
     "pacity objects with capacity information, if set to true.\n\nThe check can be enabled"
     " immediately when deploying a driver. In that case, provisioning new volumes with lat"
     "e binding will pause until the driver deployment has published some suitable CSIStora"
     "geCapacity object.\n\nAlternatively, the driver can be deployed with the field unset "
     "or false and it can be flipped later when storage capacity information has been publi"
     "shed.\n\nThis field was immutable in Kubernetes <= 1.22 and now is mutable.",
     0},
    {"TokenRequests", "string", "",
     "tokenRequests indicates the CSI driver needs pods' service account tokens it is mount"
     "ing volume for to do necessary authentication. Kubelet will pass the tokens in Volume"
     "Context in the CSI NodePublishVolume calls. The CSI driver should parse and validate "
     "the following VolumeContext: \"csi.storage.k8s.io/serviceAccount.tokens\": {\n  \"<au"
     "dience>\": {\n    \"token\": <token>,\n    \"expirationTimestamp\": <expiration times"
     "tamp in RFC3339>,\n  },\n  ...\n}\n\nNote: Audience in each TokenRequest should be di"
     "fferent and at most one token is empty string. To receive a new token after expiry, R"
     "equiresRepublish can be used to trigger NodePublishVolume periodically.",
     0},
    {"RequiresRepublish", "boolean", "",
     "requiresRepublish indicates the CSI driver wants `NodePublishVolume` being periodical"
     "ly called to reflect any possible change in the mounted volume. This field defaults t"
     "o false.\n\nNote: After a successful initial NodePublishVolume call, subsequent calls"
     " to NodePublishVolume should only update the contents of the volume. New mount points"
     " will not be seen by a running container.",
     0},
    {"Modes", "string", "",
     "volumeLifecycleModes defines what kind of volumes this CSI volume driver supports. Th"
     "e default if the list is empty is \"Persistent\", which is the usage defined by the C"
     "SI specification and implemented in Kubernetes via the usual PV/PVC mechanism.\n\nThe"
     " other mode is \"Ephemeral\". In this mode, volumes are defined inline inside the pod"
     " spec with CSIVolumeSource and their lifecycle is tied to the lifecycle of that pod. "
     "A driver has to be aware of this because it is only going to get a NodePublishVolume "
     "call for such a volume.\n\nFor more information about implementing this mode, see htt"
     "ps://kubernetes-csi.github.io/docs/ephemeral-local-volumes.html A driver can support "
     "one or more of these modes and more modes may be added in the future.\n\nThis field i"
     "s beta. This field is immutable.",
     0},
    AGE_COL,
    END_COLS};
static const column_def CSISTORAGECAPACITY_COLS[] = {
    NAME_COL,
    {"StorageClassName", "string", "",
     "storageClassName represents the name of the StorageClass that the reported capacity a"
     "pplies to. It must meet the same requirements as the name of a StorageClass object (n"
     "on-empty, DNS subdomain). If that object no longer exists, the CSIStorageCapacity obj"
     "ect is obsolete and should be removed by its creator. This field is immutable.",
     0},
    {"Capacity", "string", "",
     "capacity is the value reported by the CSI driver in its GetCapacityResponse for a Get"
     "CapacityRequest with topology and parameters that match the previous fields.\n\nThe s"
     "emantic is currently (CSI spec 1.2) defined as: The available capacity, in bytes, of "
     "the storage that can be used to provision volumes. If not set, that information is cu"
     "rrently unavailable.",
     0},
    END_COLS};
static const column_def FLOWSCHEMA_COLS[] = {
    NAME_COL,
    {"PriorityLevel", "string", "",
     "`name` is the name of the priority level configuration being referenced Required.", 0},
    {"MatchingPrecedence", "string", "",
     "`matchingPrecedence` is used to choose among the FlowSchemas that match a given reque"
     "st. The chosen FlowSchema is among those with the numerically lowest (which we take t"
     "o be logically highest) MatchingPrecedence.  Each MatchingPrecedence value must be ra"
     "nged in [1,10000]. Note that if the precedence is not specified, it will be set to 10"
     "00 as default.",
     0},
    {"DistinguisherMethod", "string", "",
     "`distinguisherMethod` defines how to compute the flow distinguisher for requests that"
     " match this schema. `nil` specifies that the distinguisher is disabled and thus will "
     "always be the empty string.",
     0},
    AGE_COL,
    {"MissingPL", "string", "", "references a broken or non-existent PriorityLevelConfiguration",
     0},
    END_COLS};
static const column_def PRIORITYLEVEL_COLS[] = {
    NAME_COL,
    {"Type", "string", "",
     "`type` indicates whether this priority level is subject to limitation on request exec"
     "ution.  A value of `\"Exempt\"` means that requests of this priority level are not su"
     "bject to a limit (and thus are never queued) and do not detract from the capacity mad"
     "e available to other priority levels.  A value of `\"Limited\"` means that (a) reques"
     "ts of this priority level _are_ subject to limits and (b) some of the server's limite"
     "d capacity is made available exclusively to this priority level. Required.",
     0},
    {"AssuredConcurrencyShares", "string", "", "", 0},
    {"Queues", "string", "",
     "`queues` is the number of queues for this priority level. The queues exist independen"
     "tly at each apiserver. The value must be positive.  Setting it to 1 effectively precl"
     "udes shufflesharding and thus makes the distinguisher method of associated flow schem"
     "as irrelevant.  This field has a default value of 64.",
     0},
    {"HandSize", "string", "",
     "`handSize` is a small positive number that configures the shuffle sharding of request"
     "s into queues.  When enqueuing a request at this priority level the request's flow id"
     "entifier (a string pair) is hashed and the hash value is used to shuffle the list of "
     "queues and deal a hand of the size specified here.  The request is put into one of th"
     "e shortest queues in that hand. `handSize` must be no larger than `queues`, and shoul"
     "d be significantly smaller (so that a few heavy flows do not saturate most of the que"
     "ues).  See the user-facing documentation for more extensive guidance on setting this "
     "field.  This field has a default value of 8.",
     0},
    {"QueueLengthLimit", "string", "",
     "`queueLengthLimit` is the maximum number of requests allowed to be waiting in a given"
     " queue of this priority level at a time; excess requests are rejected.  This value mu"
     "st be positive.  If not specified, it will be defaulted to 50.",
     0},
    AGE_COL,
    END_COLS};
static const column_def ADMISSIONPOLICY_COLS[] = {
    NAME_COL,
    {"Validations", "integer", "",
     "Validations indicates the number of validation rules defined in this configuration", 0},
    {"ParamKind", "string", "",
     "ParamKind specifies the kind of resources used to parameterize this policy", 0},
    AGE_COL,
    END_COLS};
static const column_def POLICYBINDING_COLS[] = {
    NAME_COL,
    {"PolicyName", "string", "",
     "PolicyName indicates the policy definition which the policy binding binded to", 0},
    {"ParamRef", "string", "",
     "ParamRef indicates the param resource which sets the configration param", 0},
    AGE_COL,
    END_COLS};
/* kube-apiserver's default table convertor, for kinds without a printer */
static const column_def DEFAULT_COLS[] = {
    NAME_COL, {"Created At", "date", "", ts_creation_timestamp_desc, 0}, END_COLS};
static const column_def SCALE_COLS[] = {
    NAME_COL,
    {"Desired", "integer", "", "replicas is the desired number of instances for the scaled object.",
     0},
    {"Available", "integer", "",
     "replicas is the actual number of observed instances of the scaled object.", 0},
    AGE_COL,
    END_COLS};

static const struct {
    const char *group, *plural;
    ts_printer p;
    const column_def *cols;
} PRINTERS[] = {
    {"", "serviceaccounts", TS_PRINT_SERVICEACCOUNT, SERVICEACCOUNT_COLS},
    {"", "endpoints", TS_PRINT_ENDPOINTS, ENDPOINTS_COLS},
    {"", "resourcequotas", TS_PRINT_RESOURCEQUOTA, RESOURCEQUOTA_COLS},
    {"", "persistentvolumes", TS_PRINT_PV, PV_COLS},
    {"", "persistentvolumeclaims", TS_PRINT_PVC, PVC_COLS},
    {"events.k8s.io", "events", TS_PRINT_EVENT, EVENT_COLS},
    {"batch", "cronjobs", TS_PRINT_CRONJOB, CRONJOB_COLS},
    {"policy", "poddisruptionbudgets", TS_PRINT_PDB, PDB_COLS},
    {"networking.k8s.io", "ingresses", TS_PRINT_INGRESS, INGRESS_COLS},
    {"networking.k8s.io", "networkpolicies", TS_PRINT_NETWORKPOLICY, NETWORKPOLICY_COLS},
    {"rbac.authorization.k8s.io", "rolebindings", TS_PRINT_ROLEBINDING, ROLEBINDING_COLS},
    {"rbac.authorization.k8s.io", "clusterrolebindings", TS_PRINT_ROLEBINDING, ROLEBINDING_COLS},
    {"scheduling.k8s.io", "priorityclasses", TS_PRINT_PRIORITYCLASS, PRIORITYCLASS_COLS},
    {"apiregistration.k8s.io", "apiservices", TS_PRINT_APISERVICE, APISERVICE_COLS},
    {"", "configmaps", TS_PRINT_CONFIGMAP, CONFIGMAP_COLS},
    {"", "secrets", TS_PRINT_SECRET, SECRET_COLS},
    {"", "namespaces", TS_PRINT_NAMESPACE, NAMESPACE_COLS},
    {"", "pods", TS_PRINT_POD, POD_COLS},
    {"", "services", TS_PRINT_SERVICE, SERVICE_COLS},
    {"", "events", TS_PRINT_EVENT, EVENT_COLS},
    {"", "nodes", TS_PRINT_NODE, NODE_COLS},
    {"coordination.k8s.io", "leases", TS_PRINT_LEASE, LEASE_COLS},
    {"apps", "deployments", TS_PRINT_DEPLOYMENT, DEPLOYMENT_COLS},
    {"apps", "replicasets", TS_PRINT_REPLICASET, REPLICASET_COLS},
    {"apps", "statefulsets", TS_PRINT_STATEFULSET, STATEFULSET_COLS},
    {"apps", "daemonsets", TS_PRINT_DAEMONSET, DAEMONSET_COLS},
    {"batch", "jobs", TS_PRINT_JOB, JOB_COLS},
    {"", "podtemplates", TS_PRINT_PODTEMPLATE, PODTEMPLATE_COLS},
    {"apps", "controllerrevisions", TS_PRINT_CONTROLLERREVISION, CONTROLLERREVISION_COLS},
    {"autoscaling", "horizontalpodautoscalers", TS_PRINT_HPA, HPA_COLS},
    {"discovery.k8s.io", "endpointslices", TS_PRINT_ENDPOINTSLICE, ENDPOINTSLICE_COLS},
    {"networking.k8s.io", "ingressclasses", TS_PRINT_INGRESSCLASS, INGRESSCLASS_COLS},
    {"storage.k8s.io", "storageclasses", TS_PRINT_STORAGECLASS, STORAGECLASS_COLS},
    {"node.k8s.io", "runtimeclasses", TS_PRINT_RUNTIMECLASS, RUNTIMECLASS_COLS},
    {"admissionregistration.k8s.io", "mutatingwebhookconfigurations", TS_PRINT_WEBHOOKS,
     WEBHOOKS_COLS},
    {"admissionregistration.k8s.io", "validatingwebhookconfigurations", TS_PRINT_WEBHOOKS,
     WEBHOOKS_COLS},
    {"admissionregistration.k8s.io", "validatingadmissionpolicies", TS_PRINT_ADMISSIONPOLICY,
     ADMISSIONPOLICY_COLS},
    {"admissionregistration.k8s.io", "validatingadmissionpolicybindings", TS_PRINT_POLICYBINDING,
     POLICYBINDING_COLS},
    {"", "replicationcontrollers", TS_PRINT_REPLICATIONCONTROLLER, REPLICATIONCONTROLLER_COLS},
    {"certificates.k8s.io", "certificatesigningrequests", TS_PRINT_CSR, CSR_COLS},
    {"storage.k8s.io", "volumeattachments", TS_PRINT_VOLUMEATTACHMENT, VOLUMEATTACHMENT_COLS},
    {"storage.k8s.io", "csinodes", TS_PRINT_CSINODE, CSINODE_COLS},
    {"storage.k8s.io", "csidrivers", TS_PRINT_CSIDRIVER, CSIDRIVER_COLS},
    {"storage.k8s.io", "csistoragecapacities", TS_PRINT_CSISTORAGECAPACITY,
     CSISTORAGECAPACITY_COLS},
    {"flowcontrol.apiserver.k8s.io", "flowschemas", TS_PRINT_FLOWSCHEMA, FLOWSCHEMA_COLS},
    {"flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations", TS_PRINT_PRIORITYLEVEL,
     PRIORITYLEVEL_COLS},
};

ts_printer ts_printer_of(const ts_resource *res)
{
    if (res->crd)
        return TS_PRINT_CUSTOM;
    if (res->review)
        return TS_PRINT_NONE;
    for (size_t i = 0; i < sizeof(PRINTERS) / sizeof(PRINTERS[0]); i++)
        if (ts_resource_is(res, PRINTERS[i].group, PRINTERS[i].plural))
            return PRINTERS[i].p;
    return TS_PRINT_DEFAULT;
}

/* The columnDefinitions of printer p; for a custom resource only Name,
 * after which the caller appends the CRD's columns. */
json_t *ts_printer_columns(ts_printer p)
{
    const column_def *cols = p == TS_PRINT_CUSTOM    ? CUSTOM_COLS
                             : p == TS_PRINT_DEFAULT ? DEFAULT_COLS
                             : p == TS_PRINT_SCALE   ? SCALE_COLS
                                                     : NULL;
    for (size_t i = 0; !cols && i < sizeof(PRINTERS) / sizeof(PRINTERS[0]); i++)
        if (PRINTERS[i].p == p)
            cols = PRINTERS[i].cols;
    json_t *out = cols ? json_array() : NULL;
    for (size_t i = 0; out && cols[i].name; i++) {
        json_t *c = json_pack("{s:s, s:s, s:s, s:s, s:i}", "name", cols[i].name, "type",
                              cols[i].type, "format", cols[i].format, "description", cols[i].desc,
                              "priority", cols[i].priority);
        if (!c || json_array_append_new(out, c) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

/* ---- cells ------------------------------------------------------------------------ */

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

static const char *str_at(const json_t *o, const char *a, const char *b)
{
    return json_string_value(json_object_get(json_object_get(o, a), b));
}

/* Go's duration.HumanDuration, as kubectl and the apiserver print ages. */
static void human_duration(long long secs, char *out, size_t size)
{
    if (secs < -1) {
        snprintf(out, size, "<invalid>");
        return;
    }
    if (secs < 0)
        secs = 0;
    long long m = secs / 60, h = secs / 3600, d = h / 24;
    if (secs < 120)
        snprintf(out, size, "%llds", secs);
    else if (m < 10)
        snprintf(out, size, secs % 60 ? "%lldm%llds" : "%lldm", m, secs % 60);
    else if (m < 180)
        snprintf(out, size, "%lldm", m);
    else if (h < 8)
        snprintf(out, size, m % 60 ? "%lldh%lldm" : "%lldh", h, m % 60);
    else if (h < 48)
        snprintf(out, size, "%lldh", h);
    else if (h < 24 * 8)
        snprintf(out, size, h % 24 ? "%lldd%lldh" : "%lldd", d, h % 24);
    else if (h < 24 * 365 * 2)
        snprintf(out, size, "%lldd", d);
    else if (h < 24 * 365 * 8)
        snprintf(out, size, (d % 365) ? "%lldy%lldd" : "%lldy", d / 365, d % 365);
    else
        snprintf(out, size, "%lldy", d / 365);
}

/* An RFC 3339 time in seconds since the epoch; false when it is not one. */
static bool parse_time(const char *s, long long *out)
{
    struct tm tm = {0};
    const char *rest = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    if (!rest)
        return false;
    if (*rest == '.')
        for (rest++; isdigit((unsigned char)*rest); rest++)
            ;
    long offset = 0;
    if (*rest == '+' || *rest == '-') {
        int hh, mm;
        if (sscanf(rest + 1, "%2d:%2d", &hh, &mm) != 2)
            return false;
        offset = (hh * 3600L + mm * 60L) * (*rest == '-' ? -1 : 1);
    } else if (*rest != 'Z' && *rest != 'z') {
        return false;
    }
    *out = (long long)timegm(&tm) - offset;
    return true;
}

/* An age cell: "<unknown>" without a time, "<invalid>" for a bad one. */
json_t *ts_age_cell(const char *timestamp)
{
    long long t;
    char buf[32];
    if (!timestamp || !*timestamp)
        snprintf(buf, sizeof(buf), "<unknown>");
    else if (!parse_time(timestamp, &t))
        snprintf(buf, sizeof(buf), "<invalid>");
    else
        human_duration((long long)time(NULL) - t, buf, sizeof(buf));
    return json_string(buf);
}

void ts_selector_text(const json_t *sel, kr_buf *b)
{
    json_t *reqs = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(sel, "matchLabels"), k, v)
    {
        char *r = kr_asprintf("%s=%s", k, json_string_value(v) ? json_string_value(v) : "");
        json_array_append_new(reqs, json_pack("{s:s, s:s}", "key", k, "text", r ? r : ""));
        kr_free(r);
    }
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(sel, "matchExpressions"), i, e)
    {
        const char *key = json_string_value(json_object_get(e, "key"));
        const char *op = json_string_value(json_object_get(e, "operator"));
        if (!key || !op)
            continue;
        kr_buf t = {0};
        if (strcmp(op, "Exists") == 0) {
            kr_buf_append_str(&t, key);
        } else if (strcmp(op, "DoesNotExist") == 0) {
            kr_buf_printf(&t, "!%s", key);
        } else {
            /* values sorted, as a set prints them */
            json_t *vals = json_deep_copy(json_object_get(e, "values"));
            size_t n = json_array_size(vals);
            for (size_t a = 1; a < n; a++)
                for (size_t c = a; c > 0; c--) {
                    const char *x = json_string_value(json_array_get(vals, c - 1));
                    const char *y = json_string_value(json_array_get(vals, c));
                    if (!x || !y || strcmp(x, y) <= 0)
                        break;
                    json_t *tmp = json_incref(json_array_get(vals, c - 1));
                    json_array_set(vals, c - 1, json_array_get(vals, c));
                    json_array_set_new(vals, c, tmp);
                }
            kr_buf_printf(&t, "%s %s (", key, strcmp(op, "In") == 0 ? "in" : "notin");
            for (size_t a = 0; a < n; a++) {
                const char *s = json_string_value(json_array_get(vals, a));
                kr_buf_printf(&t, "%s%s", a ? "," : "", s ? s : "");
            }
            kr_buf_append_str(&t, ")");
            json_decref(vals);
        }
        json_array_append_new(reqs,
                              json_pack("{s:s, s:s}", "key", key, "text", t.data ? t.data : ""));
        kr_buf_free(&t);
    }
    size_t n = json_array_size(reqs);
    for (size_t a = 1; a < n; a++) /* insertion sort by key: selectors are small */
        for (size_t c = a; c > 0; c--) {
            const char *x = json_string_value(json_object_get(json_array_get(reqs, c - 1), "key"));
            const char *y = json_string_value(json_object_get(json_array_get(reqs, c), "key"));
            if (!x || !y || strcmp(x, y) <= 0)
                break;
            json_t *tmp = json_incref(json_array_get(reqs, c - 1));
            json_array_set(reqs, c - 1, json_array_get(reqs, c));
            json_array_set_new(reqs, c, tmp);
        }
    for (size_t a = 0; a < n; a++)
        kr_buf_printf(b, "%s%s", a ? "," : "",
                      json_string_value(json_object_get(json_array_get(reqs, a), "text")));
    json_decref(reqs);
}

static json_t *joined(const json_t *containers, const char *field)
{
    kr_buf b = {0};
    size_t i;
    json_t *c;
    json_array_foreach(containers, i, c)
    {
        const char *s = json_string_value(json_object_get(c, field));
        kr_buf_printf(&b, "%s%s", i ? "," : "", s ? s : "");
    }
    json_t *out = json_string(b.data ? b.data : "");
    kr_buf_free(&b);
    return out;
}

static json_int_t int_at(const json_t *o, const char *a, const char *b, json_int_t dflt)
{
    const json_t *v = json_object_get(json_object_get(o, a), b);
    return json_is_integer(v) ? json_integer_value(v) : dflt;
}

/* A condition's status by type: the first condition of that type. */
static const char *condition_status(const json_t *status, const char *type)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(status, "conditions"), i, c)
    {
        const char *ty = json_string_value(json_object_get(c, "type"));
        if (ty && strcmp(ty, type) == 0)
            return json_string_value(json_object_get(c, "status"));
    }
    return NULL;
}

/* Whether the first condition of that type is True, as the printers'
 * condition helpers read it. */
static bool condition_true(const json_t *status, const char *type)
{
    const char *st = condition_status(status, type);
    return st && strcmp(st, "True") == 0;
}

/* A Job's Status, Completions and Duration, as kube-apiserver prints them. */
static void job_cells(const json_t *obj, json_t *cells)
{
    const json_t *spec = json_object_get(obj, "spec");
    const json_t *status = json_object_get(obj, "status");
    const char *state = "Running";
    if (condition_true(status, "Complete"))
        state = "Complete";
    else if (condition_true(status, "Failed"))
        state = "Failed";
    else if (str_at(obj, "metadata", "deletionTimestamp"))
        state = "Terminating";
    else if (condition_true(status, "Suspended"))
        state = "Suspended";
    else if (condition_true(status, "FailureTarget"))
        state = "FailureTarget";
    json_array_append_new(cells, json_string(state));
    long long succeeded = (long long)int_at(obj, "status", "succeeded", 0);
    const json_t *completions = json_object_get(spec, "completions");
    long long parallelism = (long long)int_at(obj, "spec", "parallelism", 0);
    char text[96];
    if (json_is_integer(completions))
        snprintf(text, sizeof(text), "%lld/%lld", succeeded,
                 (long long)json_integer_value(completions));
    else if (parallelism > 1)
        snprintf(text, sizeof(text), "%lld/1 of %lld", succeeded, parallelism);
    else
        snprintf(text, sizeof(text), "%lld/1", succeeded);
    json_array_append_new(cells, json_string(text));
    long long start, end;
    const char *started = json_string_value(json_object_get(status, "startTime"));
    const char *completed = json_string_value(json_object_get(status, "completionTime"));
    text[0] = '\0';
    if (started && parse_time(started, &start)) {
        if (!completed || !parse_time(completed, &end))
            end = (long long)time(NULL);
        human_duration(end - start, text, sizeof(text));
    }
    json_array_append_new(cells, json_string(text));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* items[0..n) sorted, each distinct one appended to b after a comma (as
 * the printers print a set of strings); frees items. */
static void append_sorted_set(const char **items, size_t n, kr_buf *b)
{
    if (items)
        qsort(items, n, sizeof(*items), cmp_str);
    for (size_t i = 0; items && i < n; i++)
        if (i == 0 || strcmp(items[i], items[i - 1]) != 0)
            kr_buf_printf(b, "%s%s", b->len ? "," : "", items[i]);
    kr_free(items);
}

/* "k=v,k2=v2" with the keys sorted, or "<none>": labels.FormatLabels. */
static json_t *format_labels(const json_t *map)
{
    size_t n;
    const char **keys = ts_sorted_keys(map, &n);
    if (!keys)
        return json_string(json_object_size(map) ? "" : "<none>");
    kr_buf b = {0};
    for (size_t i = 0; i < n; i++) {
        const char *val = json_string_value(json_object_get(map, keys[i]));
        kr_buf_printf(&b, "%s%s=%s", i ? "," : "", keys[i], val ? val : "");
    }
    kr_free(keys);
    json_t *out = json_string(b.data ? b.data : "");
    kr_buf_free(&b);
    return out;
}

/* The later of *last and a container's last termination (a zero Go time
 * when it has none). */
static void last_termination(const json_t *cs, bool *have, long long *last)
{
    long long t;
    const json_t *term = json_object_get(json_object_get(cs, "lastState"), "terminated");
    const char *at = json_string_value(json_object_get(term, "finishedAt"));
    if (at && parse_time(at, &t) && (!*have || t > *last)) {
        *have = true;
        *last = t;
    }
}

static bool restartable_init(const json_t *spec, const char *name)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(spec, "initContainers"), i, c)
    {
        const char *n = json_string_value(json_object_get(c, "name"));
        if (n && name && strcmp(n, name) == 0) {
            const char *policy = json_string_value(json_object_get(c, "restartPolicy"));
            return policy && strcmp(policy, "Always") == 0;
        }
    }
    return false;
}

/* A terminated state's reason, or Signal:N / ExitCode:N without one. */
static void terminated_reason(const json_t *term, const char *prefix, char *out, size_t size)
{
    const char *r = json_string_value(json_object_get(term, "reason"));
    json_int_t sig = json_integer_value(json_object_get(term, "signal"));
    json_int_t code = json_integer_value(json_object_get(term, "exitCode"));
    if (r && *r)
        snprintf(out, size, "%s%s", prefix, r);
    else if (sig != 0)
        snprintf(out, size, "%sSignal:%lld", prefix, (long long)sig);
    else
        snprintf(out, size, "%sExitCode:%lld", prefix, (long long)code);
}

/* A Pod's Ready, Status and Restarts, as kube-apiserver's printer derives
 * them from the container statuses (init containers first, sidecars
 * counted as containers); then Age and the wide columns. */
static void pod_cells(const json_t *obj, json_t *cells)
{
    const json_t *spec = json_object_get(obj, "spec");
    const json_t *status = json_object_get(obj, "status");
    const char *phase = json_string_value(json_object_get(status, "phase"));
    const char *status_reason = json_string_value(json_object_get(status, "reason"));
    char reason[300];
    snprintf(reason, sizeof(reason), "%s",
             status_reason && *status_reason ? status_reason
             : phase                         ? phase
                                             : "");
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(status, "conditions"), i, c)
    {
        const char *ty = json_string_value(json_object_get(c, "type"));
        const char *r = json_string_value(json_object_get(c, "reason"));
        if (ty && r && strcmp(ty, "PodScheduled") == 0 && strcmp(r, "SchedulingGated") == 0)
            snprintf(reason, sizeof(reason), "SchedulingGated");
    }
    long long total = (long long)json_array_size(json_object_get(spec, "containers"));
    json_array_foreach(json_object_get(spec, "initContainers"), i, c)
    {
        const char *policy = json_string_value(json_object_get(c, "restartPolicy"));
        if (policy && strcmp(policy, "Always") == 0)
            total++;
    }
    long long restarts = 0, sidecar_restarts = 0, ready = 0, last = 0, sidecar_last = 0;
    bool have_last = false, have_sidecar_last = false, initializing = false;
    size_t n_init = json_array_size(json_object_get(spec, "initContainers"));
    json_array_foreach(json_object_get(status, "initContainerStatuses"), i, c)
    {
        json_int_t count = json_integer_value(json_object_get(c, "restartCount"));
        restarts += count;
        last_termination(c, &have_last, &last);
        bool sidecar = restartable_init(spec, json_string_value(json_object_get(c, "name")));
        if (sidecar) {
            sidecar_restarts += count;
            last_termination(c, &have_sidecar_last, &sidecar_last);
        }
        const json_t *state = json_object_get(c, "state");
        const json_t *term = json_object_get(state, "terminated");
        const json_t *waiting = json_object_get(state, "waiting");
        const char *wreason = json_string_value(json_object_get(waiting, "reason"));
        if (json_is_object(term) && json_integer_value(json_object_get(term, "exitCode")) == 0)
            continue;
        if (sidecar && json_is_true(json_object_get(c, "started"))) {
            if (json_is_true(json_object_get(c, "ready")))
                ready++;
            continue;
        }
        if (json_is_object(term))
            terminated_reason(term, "Init:", reason, sizeof(reason));
        else if (json_is_object(waiting) && wreason && *wreason &&
                 strcmp(wreason, "PodInitializing") != 0)
            snprintf(reason, sizeof(reason), "Init:%s", wreason);
        else
            snprintf(reason, sizeof(reason), "Init:%zu/%zu", i, n_init);
        initializing = true;
        break;
    }
    if (!initializing || condition_true(status, "Initialized")) {
        restarts = sidecar_restarts;
        last = sidecar_last;
        have_last = have_sidecar_last;
        bool running = false;
        const json_t *statuses = json_object_get(status, "containerStatuses");
        for (size_t k = json_array_size(statuses); k-- > 0;) {
            const json_t *cs = json_array_get(statuses, k);
            restarts += json_integer_value(json_object_get(cs, "restartCount"));
            last_termination(cs, &have_last, &last);
            const json_t *state = json_object_get(cs, "state");
            const json_t *term = json_object_get(state, "terminated");
            const char *wreason =
                json_string_value(json_object_get(json_object_get(state, "waiting"), "reason"));
            if (wreason && *wreason)
                snprintf(reason, sizeof(reason), "%s", wreason);
            else if (json_is_object(term))
                terminated_reason(term, "", reason, sizeof(reason));
            else if (json_is_true(json_object_get(cs, "ready")) &&
                     json_is_object(json_object_get(state, "running"))) {
                running = true;
                ready++;
            }
        }
        if (running && strcmp(reason, "Completed") == 0)
            snprintf(reason, sizeof(reason), "%s",
                     condition_true(status, "Ready") ? "Running" : "NotReady");
    }
    bool terminal = phase && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0);
    if (str_at(obj, "metadata", "deletionTimestamp")) {
        if (status_reason && strcmp(status_reason, "NodeLost") == 0)
            snprintf(reason, sizeof(reason), "Unknown");
        else if (!terminal)
            snprintf(reason, sizeof(reason), "Terminating");
    }
    char text[96];
    snprintf(text, sizeof(text), "%lld/%lld", ready, total);
    json_array_append_new(cells, json_string(text));
    json_array_append_new(cells, json_string(reason));
    if (restarts != 0 && have_last) {
        char ago[32];
        human_duration((long long)time(NULL) - last, ago, sizeof(ago));
        snprintf(text, sizeof(text), "%lld (%s ago)", restarts, ago);
    } else {
        snprintf(text, sizeof(text), "%lld", restarts);
    }
    json_array_append_new(cells, json_string(text));
}

/* The wide columns of a Pod: IP, Node, Nominated Node, Readiness Gates. */
static void pod_wide_cells(const json_t *obj, json_t *cells)
{
    const json_t *spec = json_object_get(obj, "spec");
    const json_t *status = json_object_get(obj, "status");
    const char *ip = json_string_value(
        json_object_get(json_array_get(json_object_get(status, "podIPs"), 0), "ip"));
    const char *node = json_string_value(json_object_get(spec, "nodeName"));
    const char *nominated = json_string_value(json_object_get(status, "nominatedNodeName"));
    json_array_append_new(cells, json_string(ip && *ip ? ip : "<none>"));
    json_array_append_new(cells, json_string(node && *node ? node : "<none>"));
    json_array_append_new(cells, json_string(nominated && *nominated ? nominated : "<none>"));
    const json_t *gates = json_object_get(spec, "readinessGates");
    if (json_array_size(gates) == 0) {
        json_array_append_new(cells, json_string("<none>"));
        return;
    }
    size_t i, n_true = 0;
    json_t *g;
    json_array_foreach(gates, i, g)
    {
        const char *type = json_string_value(json_object_get(g, "conditionType"));
        if (type && condition_true(status, type))
            n_true++;
    }
    char text[64];
    snprintf(text, sizeof(text), "%zu/%zu", n_true, json_array_size(gates));
    json_array_append_new(cells, json_string(text));
}

/* The load balancer's addresses (IP, else hostname) as a sorted set. */
static void lb_addresses(const json_t *ingress, kr_buf *b)
{
    size_t n = json_array_size(ingress), m = 0, i;
    const char **addrs = n ? kr_calloc(n, sizeof(*addrs)) : NULL;
    json_t *v;
    json_array_foreach(ingress, i, v)
    {
        const char *ip = json_string_value(json_object_get(v, "ip"));
        const char *host = json_string_value(json_object_get(v, "hostname"));
        const char *a = ip && *ip ? ip : host && *host ? host : NULL;
        if (a && addrs)
            addrs[m++] = a;
    }
    append_sorted_set(addrs, m, b);
}

/* A Service's External-IP, as getServiceExternalIP prints it wide. */
static json_t *service_external_ip(const json_t *spec, const json_t *status)
{
    const char *type = json_string_value(json_object_get(spec, "type"));
    const json_t *external = json_object_get(spec, "externalIPs");
    kr_buf b = {0};
    size_t i;
    json_t *v;
    if (type && strcmp(type, "ExternalName") == 0) {
        const char *name = json_string_value(json_object_get(spec, "externalName"));
        return json_string(name ? name : "");
    }
    if (!type || (strcmp(type, "ClusterIP") != 0 && strcmp(type, "NodePort") != 0 &&
                  strcmp(type, "LoadBalancer") != 0))
        return json_string("<unknown>");
    if (strcmp(type, "LoadBalancer") == 0) /* its addresses, then externalIPs */
        lb_addresses(json_object_get(json_object_get(status, "loadBalancer"), "ingress"), &b);
    json_array_foreach(external, i, v)
    {
        const char *ip = json_string_value(v);
        kr_buf_printf(&b, "%s%s", b.len ? "," : "", ip ? ip : "");
    }
    const char *none = strcmp(type, "LoadBalancer") == 0 ? "<pending>" : "<none>";
    json_t *out = json_string(b.len ? b.data : none);
    kr_buf_free(&b);
    return out;
}

/* A Service's Type, Cluster-IP, External-IP and Port(s). */
static void service_cells(const json_t *obj, json_t *cells)
{
    const json_t *spec = json_object_get(obj, "spec");
    const char *type = json_string_value(json_object_get(spec, "type"));
    const char *ip = json_string_value(json_array_get(json_object_get(spec, "clusterIPs"), 0));
    json_array_append_new(cells, json_string(type ? type : ""));
    json_array_append_new(cells, json_string(ip ? ip : "<none>"));
    json_array_append_new(cells, service_external_ip(spec, json_object_get(obj, "status")));
    kr_buf b = {0};
    size_t i;
    json_t *port;
    json_array_foreach(json_object_get(spec, "ports"), i, port)
    {
        const char *proto = json_string_value(json_object_get(port, "protocol"));
        long long p = (long long)json_integer_value(json_object_get(port, "port"));
        long long node = (long long)json_integer_value(json_object_get(port, "nodePort"));
        if (node > 0)
            kr_buf_printf(&b, "%s%lld:%lld/%s", i ? "," : "", p, node, proto ? proto : "");
        else
            kr_buf_printf(&b, "%s%lld/%s", i ? "," : "", p, proto ? proto : "");
    }
    json_array_append_new(cells, json_string(b.len ? b.data : "<none>"));
    kr_buf_free(&b);
}

/* An age from an RFC 3339 value that may be absent or null (Go's zero
 * time): false when there is none. */
static bool age_if_set(const json_t *v, char *out, size_t size)
{
    const char *s = json_string_value(v);
    if (!s || !*s)
        return false;
    json_t *age = ts_age_cell(s);
    snprintf(out, size, "%s", json_string_value(age));
    json_decref(age);
    return true;
}

/* A core Event's field, or its events.k8s.io/v1 name. */
static const json_t *ev_field(const json_t *obj, const char *core, const char *events)
{
    const json_t *v = json_object_get(obj, core);
    return v && !json_is_null(v) ? v : json_object_get(obj, events);
}

/* An Event's cells, in its printer's wide order: Last Seen, Type, Reason,
 * Object, Subobject, Source, Message, First Seen, Count, Name. */
static json_t *event_cells(const json_t *obj)
{
    char first[32], last[32], target[600], source[600];
    if (!age_if_set(ev_field(obj, "firstTimestamp", "deprecatedFirstTimestamp"), first,
                    sizeof(first)) &&
        !age_if_set(json_object_get(obj, "eventTime"), first, sizeof(first)))
        snprintf(first, sizeof(first), "<unknown>");
    if (!age_if_set(ev_field(obj, "lastTimestamp", "deprecatedLastTimestamp"), last, sizeof(last)))
        snprintf(last, sizeof(last), "%s", first);
    json_int_t count = json_integer_value(ev_field(obj, "count", "deprecatedCount"));
    const json_t *series = json_object_get(obj, "series");
    if (json_is_object(series)) {
        if (!age_if_set(json_object_get(series, "lastObservedTime"), last, sizeof(last)))
            snprintf(last, sizeof(last), "<unknown>");
        count = json_integer_value(json_object_get(series, "count"));
    } else if (count == 0) {
        count = 1; /* singleton events of the new API have no count */
    }
    const json_t *inv = ev_field(obj, "involvedObject", "regarding");
    const char *kind = json_string_value(json_object_get(inv, "kind"));
    const char *name = json_string_value(json_object_get(inv, "name"));
    size_t n = (size_t)snprintf(target, sizeof(target), "%s", kind ? kind : "");
    for (size_t i = 0; i < n && i < sizeof(target); i++)
        target[i] = (char)tolower((unsigned char)target[i]);
    if (name && *name && n < sizeof(target))
        snprintf(target + n, sizeof(target) - n, "/%s", name);
    const json_t *src = ev_field(obj, "source", "deprecatedSource");
    const char *component = json_string_value(json_object_get(src, "component"));
    const char *host = json_string_value(json_object_get(src, "host"));
    if (!component || !*component)
        component = json_string_value(ev_field(obj, "reportingComponent", "reportingController"));
    if (!host || !*host)
        host = json_string_value(json_object_get(obj, "reportingInstance"));
    snprintf(source, sizeof(source), "%s%s%s", component ? component : "",
             host && *host ? ", " : "", host && *host ? host : "");
    /* the message without surrounding white space */
    const char *msg = json_string_value(ev_field(obj, "message", "note"));
    msg = msg ? msg : "";
    while (isspace((unsigned char)*msg))
        msg++;
    size_t mlen = strlen(msg);
    while (mlen > 0 && isspace((unsigned char)msg[mlen - 1]))
        mlen--;
    const char *type = json_string_value(json_object_get(obj, "type"));
    const char *reason = json_string_value(json_object_get(obj, "reason"));
    const char *path = json_string_value(json_object_get(inv, "fieldPath"));
    const char *own = str_at(obj, "metadata", "name");
    return json_pack("[s, s, s, s, s, s, s#, s, I, s]", last, type ? type : "",
                     reason ? reason : "", target, path ? path : "", source, msg, (int)mlen, first,
                     count, own ? own : "");
}

/* A Node's Status and Roles, as kube-apiserver's printer derives them. */
static void node_cells(const json_t *obj, json_t *cells)
{
    const char *ready = condition_status(json_object_get(obj, "status"), "Ready");
    kr_buf b = {0};
    kr_buf_append_str(&b, !ready ? "Unknown" : strcmp(ready, "True") == 0 ? "Ready" : "NotReady");
    if (json_is_true(json_object_get(json_object_get(obj, "spec"), "unschedulable")))
        kr_buf_append_str(&b, ",SchedulingDisabled");
    json_array_append_new(cells, json_string(b.data ? b.data : ""));
    kr_buf_free(&b);
    /* roles: node-role.kubernetes.io/<role> keys and a kubernetes.io/role
     * value, as a sorted set */
    const json_t *labels = json_object_get(json_object_get(obj, "metadata"), "labels");
    size_t n = json_object_size(labels), m = 0;
    const char **roles = n ? kr_calloc(n, sizeof(*roles)) : NULL;
    const char *k;
    json_t *v;
    static const char prefix[] = "node-role.kubernetes.io/";
    json_object_foreach((json_t *)labels, k, v)
    {
        const char *role = NULL;
        if (strncmp(k, prefix, sizeof(prefix) - 1) == 0 && k[sizeof(prefix) - 1])
            role = k + sizeof(prefix) - 1;
        else if (strcmp(k, "kubernetes.io/role") == 0 && json_string_value(v) &&
                 *json_string_value(v))
            role = json_string_value(v);
        if (role && roles)
            roles[m++] = role;
    }
    append_sorted_set(roles, m, &b);
    json_array_append_new(cells, json_string(b.len ? b.data : "<none>"));
    kr_buf_free(&b);
}

/* A Node's Version and wide columns, after its Age. */
static void node_info_cells(const json_t *obj, json_t *cells)
{
    const json_t *status = json_object_get(obj, "status");
    const json_t *info = json_object_get(status, "nodeInfo");
    const char *kubelet = json_string_value(json_object_get(info, "kubeletVersion"));
    json_array_append_new(cells, json_string(kubelet ? kubelet : ""));
    static const char *const types[] = {"InternalIP", "ExternalIP"};
    for (size_t t = 0; t < 2; t++) {
        const char *addr = NULL;
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(status, "addresses"), i, a)
        {
            const char *ty = json_string_value(json_object_get(a, "type"));
            if (!addr && ty && strcmp(ty, types[t]) == 0)
                addr = json_string_value(json_object_get(a, "address"));
        }
        json_array_append_new(cells, json_string(addr ? addr : "<none>"));
    }
    static const char *const fields[] = {"osImage", "kernelVersion", "containerRuntimeVersion"};
    for (size_t i = 0; i < 3; i++) {
        const char *f = json_string_value(json_object_get(info, fields[i]));
        json_array_append_new(cells, json_string(f && *f ? f : "<unknown>"));
    }
}

/* An int-or-string field as Go's IntOrString prints it, or dflt. */
static json_t *int_or_string(const json_t *v, const char *dflt)
{
    if (json_is_integer(v)) {
        char text[32];
        snprintf(text, sizeof(text), "%lld", (long long)json_integer_value(v));
        return json_string(text);
    }
    return json_string(json_is_string(v) ? json_string_value(v) : dflt);
}

/* A list of at most three items shown, then " + N more...", as the
 * printers shorten lists: list_add appends an item to b (counting the
 * ones past the third), list_text makes the cell and frees b. */
static void list_add(kr_buf *b, size_t *shown, const char *item)
{
    if (*shown < 3)
        kr_buf_printf(b, "%s%s", *shown ? "," : "", item);
    (*shown)++;
}

static json_t *list_text(kr_buf *b, size_t count, const char *empty)
{
    if (count > 3)
        kr_buf_printf(b, " + %zu more...", count - 3);
    json_t *out = json_string(b->len ? b->data : empty);
    kr_buf_free(b);
    return out;
}

/* An Endpoints object's addresses: ip:port per port of each subset
 * (the bare ip where a subset has no ports), at most three shown. */
static json_t *endpoints_text(const json_t *obj)
{
    const json_t *subsets = json_object_get(obj, "subsets");
    if (json_array_size(subsets) == 0)
        return json_string("<none>");
    kr_buf b = {0};
    size_t shown = 0, i, j, k;
    json_t *ss, *port, *addr;
    json_array_foreach(subsets, i, ss)
    {
        const json_t *ports = json_object_get(ss, "ports");
        const json_t *addrs = json_object_get(ss, "addresses");
        if (json_array_size(ports) == 0) {
            json_array_foreach(addrs, k, addr)
                list_add(&b, &shown, or_empty(json_string_value(json_object_get(addr, "ip"))));
            continue;
        }
        json_array_foreach(ports, j, port)
        {
            json_array_foreach(addrs, k, addr)
            {
                const char *ip = json_string_value(json_object_get(addr, "ip"));
                long long n = (long long)json_integer_value(json_object_get(port, "port"));
                char hp[128];
                snprintf(hp, sizeof(hp), strchr(ip ? ip : "", ':') ? "[%s]:%lld" : "%s:%lld",
                         ip ? ip : "", n);
                list_add(&b, &shown, hp);
            }
        }
    }
    return list_text(&b, shown, "");
}

/* An Ingress's Hosts: the first three rules' hosts, "*" without any. */
static json_t *ingress_hosts(const json_t *rules)
{
    kr_buf b = {0};
    size_t i, n = 0;
    json_t *r;
    bool more = false;
    json_array_foreach(rules, i, r)
    {
        const char *host = json_string_value(json_object_get(r, "host"));
        if (n == 3)
            more = true;
        if (!more && host && *host) {
            kr_buf_printf(&b, "%s%s", n ? "," : "", host);
            n++;
        }
    }
    if (more)
        kr_buf_printf(&b, " + %zu more...", json_array_size(rules) - 3);
    json_t *out = json_string(n ? b.data : "*");
    kr_buf_free(&b);
    return out;
}

/* A RoleBinding's subjects of one kind, joined with ", "; service
 * accounts as namespace/name. */
static json_t *subjects_of(const json_t *subjects, const char *kind)
{
    kr_buf b = {0};
    size_t i;
    json_t *s;
    json_array_foreach(subjects, i, s)
    {
        const char *k = json_string_value(json_object_get(s, "kind"));
        const char *name = json_string_value(json_object_get(s, "name"));
        if (!k || strcmp(k, kind) != 0)
            continue;
        if (b.len)
            kr_buf_append_str(&b, ", ");
        if (strcmp(kind, "ServiceAccount") == 0)
            kr_buf_printf(&b, "%s/", or_empty(json_string_value(json_object_get(s, "namespace"))));
        kr_buf_append_str(&b, name ? name : "");
    }
    json_t *out = json_string(b.len ? b.data : "");
    kr_buf_free(&b);
    return out;
}

/* Access modes as GetAccessModesAsString abbreviates them, in its order. */
static json_t *access_modes(const json_t *modes)
{
    static const char *const names[][2] = {{"ReadWriteOnce", "RWO"},
                                           {"ReadOnlyMany", "ROX"},
                                           {"ReadWriteMany", "RWX"},
                                           {"ReadWriteOncePod", "RWOP"}};
    kr_buf b = {0};
    for (size_t n = 0; n < 4; n++) {
        size_t i;
        json_t *m;
        json_array_foreach(modes, i, m)
        {
            if (json_string_value(m) && strcmp(json_string_value(m), names[n][0]) == 0) {
                kr_buf_printf(&b, "%s%s", b.len ? "," : "", names[n][1]);
                break;
            }
        }
    }
    json_t *out = json_string(b.len ? b.data : "");
    kr_buf_free(&b);
    return out;
}

/* The storage class: the beta annotation first, then the field. */
static json_t *storage_class(const json_t *obj)
{
    const json_t *ann = json_object_get(json_object_get(obj, "metadata"), "annotations");
    const char *c =
        json_string_value(json_object_get(ann, "volume.beta.kubernetes.io/storage-class"));
    if (!c)
        c = str_at(obj, "spec", "storageClassName");
    return json_string(c ? c : "");
}

static json_t *str_or_unset(const char *s)
{
    return json_string(s ? s : "<unset>");
}

/* A ResourceQuota's Request and Limit: used/hard per resource, sorted;
 * limits.* resources in Limit. */
static void quota_cells(const json_t *obj, json_t *cells)
{
    const json_t *hard = json_object_get(json_object_get(obj, "status"), "hard");
    const json_t *used = json_object_get(json_object_get(obj, "status"), "used");
    size_t i;
    const char **keys = ts_sorted_keys(hard, &i);
    kr_buf req = {0}, lim = {0};
    for (size_t j = 0; keys && j < i; j++) {
        kr_buf *w = strncmp(keys[j], "limits.", 7) == 0 ? &lim : &req;
        const char *u = json_string_value(json_object_get(used, keys[j]));
        const char *h = json_string_value(json_object_get(hard, keys[j]));
        kr_buf_printf(w, "%s%s: %s/%s", w->len ? ", " : "", keys[j], u ? u : "0", h ? h : "0");
    }
    kr_free(keys);
    json_array_append_new(cells, json_string(req.len ? req.data : ""));
    json_array_append_new(cells, json_string(lim.len ? lim.data : ""));
    kr_buf_free(&req);
    kr_buf_free(&lim);
}

/* A Quantity as its String() prints it; an absent one is a nil pointer,
 * which prints "<nil>". */
static void quantity_text(const json_t *q, kr_buf *b)
{
    if (json_is_string(q))
        kr_buf_append_str(b, json_string_value(q));
    else if (json_is_integer(q))
        kr_buf_printf(b, "%lld", (long long)json_integer_value(q));
    else if (json_is_real(q))
        kr_buf_printf(b, "%g", json_real_value(q));
    else
        kr_buf_append_str(b, "<nil>");
}

/* One metric of an HPA's Targets: current/target, as formatHPAMetrics
 * prints each source type; `status` is the metric's entry in
 * status.currentMetrics (NULL when there is none). */
static void hpa_metric(const json_t *spec, const json_t *status, kr_buf *b)
{
    const char *type = json_string_value(json_object_get(spec, "type"));
    static const char *const sources[][2] = {{"External", "external"},
                                             {"Pods", "pods"},
                                             {"Object", "object"},
                                             {"Resource", "resource"},
                                             {"ContainerResource", "containerResource"}};
    const char *key = NULL;
    for (size_t i = 0; type && i < KR_ARRAY_LEN(sources); i++)
        if (strcmp(type, sources[i][0]) == 0)
            key = sources[i][1];
    if (!key) {
        kr_buf_append_str(b, "<unknown type>");
        return;
    }
    const json_t *src = json_object_get(spec, key);
    const json_t *target = json_object_get(src, "target");
    const json_t *cur = json_object_get(status, key);
    const json_t *current = json_object_get(cur, "current");
    bool resource = strcmp(key, "resource") == 0 || strcmp(key, "containerResource") == 0;
    if (resource) /* "cpu: " */
        kr_buf_printf(b, "%s: ", or_empty(json_string_value(json_object_get(src, "name"))));
    const json_t *avg = json_object_get(target, "averageValue");
    if (strcmp(key, "pods") == 0 || (avg && !json_is_null(avg))) {
        const json_t *now = json_object_get(current, "averageValue");
        /* an External or Object metric needs the current average itself */
        if (!json_is_object(cur) || (!resource && strcmp(key, "pods") != 0 && !now))
            kr_buf_append_str(b, "<unknown>");
        else
            quantity_text(now, b);
        kr_buf_append_str(b, "/");
        quantity_text(avg, b);
        if (!resource && strcmp(key, "pods") != 0)
            kr_buf_append_str(b, " (avg)");
    } else if (resource) {
        const json_t *now = json_object_get(current, "averageUtilization");
        const json_t *want = json_object_get(target, "averageUtilization");
        if (json_is_object(cur) && json_is_integer(now))
            kr_buf_printf(b, "%lld%%", (long long)json_integer_value(now));
        else
            kr_buf_append_str(b, "<unknown>");
        if (json_is_integer(want))
            kr_buf_printf(b, "/%lld%%", (long long)json_integer_value(want));
        else
            kr_buf_append_str(b, "/<auto>");
    } else {
        if (json_is_object(cur))
            quantity_text(json_object_get(current, "value"), b);
        else
            kr_buf_append_str(b, "<unknown>");
        kr_buf_append_str(b, "/");
        quantity_text(json_object_get(target, "value"), b);
    }
}

/* An HPA's Targets: the first two metrics, then how many more. */
static json_t *hpa_targets(const json_t *spec, const json_t *status)
{
    const json_t *metrics = json_object_get(spec, "metrics");
    const json_t *current = json_object_get(status, "currentMetrics");
    size_t n = json_array_size(metrics);
    if (n == 0)
        return json_string("<none>");
    kr_buf b = {0};
    for (size_t i = 0; i < n && i < 2; i++) {
        if (i)
            kr_buf_append_str(&b, ", ");
        hpa_metric(json_array_get(metrics, i), json_array_get(current, i), &b);
    }
    if (n > 2)
        kr_buf_printf(&b, " + %zu more...", n - 2);
    json_t *out = json_string(b.data ? b.data : "");
    kr_buf_free(&b);
    return out;
}

/* Up to three items joined with commas, then how many more; "<unset>"
 * when that is empty (none, or one empty port name): listWithMoreString. */
static json_t *list_with_more(const char **items, size_t count)
{
    kr_buf b = {0};
    for (size_t i = 0; i < count && i < 3; i++)
        kr_buf_printf(&b, "%s%s", i ? "," : "", items[i]);
    if (count > 3)
        kr_buf_printf(&b, " + %zu more...", count - 3);
    json_t *out = json_string(b.len ? b.data : "<unset>");
    kr_buf_free(&b);
    return out;
}

/* An EndpointSlice's Ports (the number, else the name, else "*") and
 * Endpoints (every address of every endpoint). */
static void endpointslice_cells(const json_t *obj, json_t *cells)
{
    const char *items[3];
    char numbers[3][24];
    size_t count = 0, i, j;
    json_t *p, *e, *a;
    json_array_foreach(json_object_get(obj, "ports"), i, p)
    {
        const json_t *port = json_object_get(p, "port");
        const char *name = json_string_value(json_object_get(p, "name"));
        if (count < 3 && json_is_integer(port)) {
            snprintf(numbers[count], sizeof(numbers[count]), "%lld",
                     (long long)json_integer_value(port));
            items[count] = numbers[count];
        } else if (count < 3) {
            items[count] = name ? name : "*";
        }
        count++;
    }
    json_array_append_new(cells, list_with_more(items, count));
    count = 0;
    json_array_foreach(json_object_get(obj, "endpoints"), i, e)
    {
        json_array_foreach(json_object_get(e, "addresses"), j, a)
        {
            if (count < 3)
                items[count] = or_empty(json_string_value(a));
            count++;
        }
    }
    json_array_append_new(cells, list_with_more(items, count));
}

/* The controlling owner as "kind.group/name" in lower case ("<none>"). */
static json_t *controller_of(const json_t *obj)
{
    size_t i;
    json_t *ref;
    json_array_foreach(json_object_get(json_object_get(obj, "metadata"), "ownerReferences"), i, ref)
    {
        if (!json_is_true(json_object_get(ref, "controller")))
            continue;
        const char *av = or_empty(json_string_value(json_object_get(ref, "apiVersion")));
        const char *kind = or_empty(json_string_value(json_object_get(ref, "kind")));
        const char *name = or_empty(json_string_value(json_object_get(ref, "name")));
        const char *slash = strchr(av, '/');
        int glen = slash ? (int)(slash - av) : 0;
        if (!*kind && !glen)
            return json_string(name);
        kr_buf b = {0};
        kr_buf_printf(&b, "%s%s%.*s/%s", kind, glen ? "." : "", glen, av, name);
        size_t group_kind = strlen(kind) + (glen ? (size_t)glen + 1 : 0);
        for (size_t k = 0; b.data && k < group_kind; k++)
            b.data[k] = (char)tolower((unsigned char)b.data[k]);
        json_t *out = json_string(b.data ? b.data : "");
        kr_buf_free(&b);
        return out;
    }
    return json_string("<none>");
}

/* A StorageClass's name, marked when it is the default class. */
static json_t *storageclass_name(const json_t *obj)
{
    const json_t *ann = json_object_get(json_object_get(obj, "metadata"), "annotations");
    const char *ga =
        json_string_value(json_object_get(ann, "storageclass.kubernetes.io/is-default-class"));
    const char *beta =
        json_string_value(json_object_get(ann, "storageclass.beta.kubernetes.io/is-default-class"));
    const char *name = or_empty(str_at(obj, "metadata", "name"));
    bool dflt = (ga && strcmp(ga, "true") == 0) || (beta && strcmp(beta, "true") == 0);
    char *text = kr_asprintf("%s%s", name, dflt ? " (default)" : "");
    json_t *out = json_string(text ? text : name);
    kr_free(text);
    return out;
}

/* An IngressClass's Parameters: "Kind[.apiGroup]/name" or "<none>". */
static json_t *ingressclass_parameters(const json_t *spec)
{
    const json_t *params = json_object_get(spec, "parameters");
    if (!json_is_object(params))
        return json_string("<none>");
    const char *group = json_string_value(json_object_get(params, "apiGroup"));
    char *text = kr_asprintf(
        "%s%s%s/%s", or_empty(json_string_value(json_object_get(params, "kind"))), group ? "." : "",
        or_empty(group), or_empty(json_string_value(json_object_get(params, "name"))));
    json_t *out = json_string(text ? text : "");
    kr_free(text);
    return out;
}

/* The cells of obj under printer p (not a custom resource). */
/* A CertificateSigningRequest's row: Name, Age, SignerName, Requestor,
 * RequestedDuration, Condition ("Approved,Issued", "Pending", ...). */
static void csr_cells(const json_t *obj, json_t *cells)
{
    const json_t *spec = json_object_get(obj, "spec");
    const json_t *status = json_object_get(obj, "status");
    const char *signer = json_string_value(json_object_get(spec, "signerName"));
    const json_t *secs = json_object_get(spec, "expirationSeconds");
    json_array_append_new(cells, ts_age_cell(str_at(obj, "metadata", "creationTimestamp")));
    json_array_append_new(cells, json_string(signer && *signer ? signer : "<none>"));
    json_array_append_new(
        cells, json_string(or_empty(json_string_value(json_object_get(spec, "username")))));
    if (json_is_integer(secs)) {
        char text[32];
        human_duration((long long)json_integer_value(secs), text, sizeof(text));
        json_array_append_new(cells, json_string(text));
    } else {
        json_array_append_new(cells, json_string("<none>"));
    }
    bool approved = condition_status(status, "Approved") != NULL;
    bool denied = condition_status(status, "Denied") != NULL;
    bool failed = condition_status(status, "Failed") != NULL;
    const char *cert = json_string_value(json_object_get(status, "certificate"));
    char text[64];
    snprintf(text, sizeof(text), "%s%s%s",
             denied     ? "Denied"
             : approved ? "Approved"
                        : "Pending",
             failed ? ",Failed" : "", cert && *cert ? ",Issued" : "");
    json_array_append_new(cells, json_string(text));
}

static void csidriver_cells(const json_t *spec, json_t *cells)
{
    static const struct {
        const char *field;
        bool dflt;
    } flags[] = {{"attachRequired", true}, {"podInfoOnMount", false}, {"storageCapacity", false}};
    for (size_t i = 0; i < KR_ARRAY_LEN(flags); i++) {
        const json_t *v = json_object_get(spec, flags[i].field);
        json_array_append_new(cells,
                              json_boolean(json_is_boolean(v) ? json_is_true(v) : flags[i].dflt));
    }
    kr_buf b = {0};
    size_t i;
    const json_t *t;
    json_array_foreach(json_object_get(spec, "tokenRequests"), i, t)
    {
        kr_buf_printf(&b, "%s%s", i ? "," : "",
                      or_empty(json_string_value(json_object_get(t, "audience"))));
    }
    json_array_append_new(cells, json_string(b.len ? b.data : "<unset>"));
    kr_buf_free(&b);
    json_array_append_new(cells,
                          json_boolean(json_is_true(json_object_get(spec, "requiresRepublish"))));
    json_array_foreach(json_object_get(spec, "volumeLifecycleModes"), i, t)
    {
        kr_buf_printf(&b, "%s%s", i ? "," : "", or_empty(json_string_value(t)));
    }
    json_array_append_new(cells, json_string(b.len ? b.data : "<none>"));
    kr_buf_free(&b);
}

/* Type, then the limited level's shares and queuing or "<none>" each. */
static void priority_level_cells(const json_t *spec, json_t *cells)
{
    const json_t *limited = json_object_get(spec, "limited");
    const json_t *queuing = json_object_get(json_object_get(limited, "limitResponse"), "queuing");
    json_array_append_new(cells,
                          json_string(or_empty(json_string_value(json_object_get(spec, "type")))));
    const json_t *shares = json_object_get(limited, "nominalConcurrencyShares");
    json_array_append_new(cells, json_is_integer(shares) ? json_incref((json_t *)shares)
                                                         : json_string("<none>"));
    static const char *const q[] = {"queues", "handSize", "queueLengthLimit"};
    for (size_t i = 0; i < KR_ARRAY_LEN(q); i++) {
        const json_t *v = json_object_get(queuing, q[i]);
        json_array_append_new(cells, json_is_object(queuing) && json_is_integer(v)
                                         ? json_incref((json_t *)v)
                                         : json_string("<none>"));
    }
}

/* A binding's paramRef: namespace/name (a star for any namespace), the
 * selector, or "<unset>". */
static json_t *param_ref_text(const json_t *ref)
{
    const char *name = json_string_value(json_object_get(ref, "name"));
    const char *ns = json_string_value(json_object_get(ref, "namespace"));
    if (name && *name) {
        char *text = kr_asprintf("%s/%s", ns && *ns ? ns : "*", name);
        json_t *out = json_string(text ? text : "");
        kr_free(text);
        return out;
    }
    const json_t *sel = json_object_get(ref, "selector");
    if (!json_is_object(sel))
        return json_string("<unset>");
    kr_buf b = {0};
    ts_selector_text(sel, &b);
    json_t *out = json_string(b.data ? b.data : "");
    kr_buf_free(&b);
    return out;
}

json_t *ts_printer_cells(ts_printer p, const json_t *obj)
{
    if (p == TS_PRINT_EVENT)
        return event_cells(obj);
    const char *name = str_at(obj, "metadata", "name");
    json_t *cells = json_pack("[s]", name ? name : "");
    if (!cells)
        return NULL;
    const json_t *status = json_object_get(obj, "status");
    switch (p) {
    case TS_PRINT_CONFIGMAP: {
        size_t n = json_object_size(json_object_get(obj, "data")) +
                   json_object_size(json_object_get(obj, "binaryData"));
        json_array_append_new(cells, json_integer((json_int_t)n));
        break;
    }
    case TS_PRINT_SECRET: {
        const char *type = json_string_value(json_object_get(obj, "type"));
        json_array_append_new(cells, json_string(type ? type : "Opaque"));
        json_array_append_new(
            cells, json_integer((json_int_t)json_object_size(json_object_get(obj, "data"))));
        break;
    }
    case TS_PRINT_NAMESPACE: {
        const char *phase = json_string_value(json_object_get(status, "phase"));
        json_array_append_new(cells, json_string(phase ? phase : "Active"));
        break;
    }
    case TS_PRINT_LEASE: {
        const char *holder =
            json_string_value(json_object_get(json_object_get(obj, "spec"), "holderIdentity"));
        json_array_append_new(cells, json_string(holder ? holder : ""));
        break;
    }
    case TS_PRINT_DEPLOYMENT: {
        char ready[64];
        snprintf(ready, sizeof(ready), "%lld/%lld",
                 (long long)int_at(obj, "status", "readyReplicas", 0),
                 (long long)int_at(obj, "spec", "replicas", 1));
        json_array_append_new(cells, json_string(ready));
        json_array_append_new(cells, json_integer(int_at(obj, "status", "updatedReplicas", 0)));
        json_array_append_new(cells, json_integer(int_at(obj, "status", "availableReplicas", 0)));
        break;
    }
    case TS_PRINT_JOB:
        job_cells(obj, cells);
        break;
    case TS_PRINT_POD:
        pod_cells(obj, cells);
        break;
    case TS_PRINT_SERVICE:
        service_cells(obj, cells);
        break;
    case TS_PRINT_REPLICASET:
        json_array_append_new(cells, json_integer(int_at(obj, "spec", "replicas", 0)));
        json_array_append_new(cells, json_integer(int_at(obj, "status", "replicas", 0)));
        json_array_append_new(cells, json_integer(int_at(obj, "status", "readyReplicas", 0)));
        break;
    case TS_PRINT_STATEFULSET: {
        char ready[64];
        snprintf(ready, sizeof(ready), "%lld/%lld",
                 (long long)int_at(obj, "status", "readyReplicas", 0),
                 (long long)int_at(obj, "spec", "replicas", 0));
        json_array_append_new(cells, json_string(ready));
        break;
    }
    case TS_PRINT_DAEMONSET: {
        static const char *const counts[] = {"desiredNumberScheduled", "currentNumberScheduled",
                                             "numberReady", "updatedNumberScheduled",
                                             "numberAvailable"};
        for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
            json_array_append_new(cells, json_integer(int_at(obj, "status", counts[i], 0)));
        json_array_append_new(
            cells,
            format_labels(json_object_get(
                json_object_get(json_object_get(json_object_get(obj, "spec"), "template"), "spec"),
                "nodeSelector")));
        break;
    }
    case TS_PRINT_NODE:
        node_cells(obj, cells);
        break;
    case TS_PRINT_SERVICEACCOUNT:
        json_array_append_new(
            cells, json_integer((json_int_t)json_array_size(json_object_get(obj, "secrets"))));
        break;
    case TS_PRINT_ENDPOINTS:
        json_array_append_new(cells, endpoints_text(obj));
        break;
    case TS_PRINT_CRONJOB: {
        const char *tz = str_at(obj, "spec", "timeZone");
        const json_t *suspend = json_object_get(json_object_get(obj, "spec"), "suspend");
        const char *last = str_at(obj, "status", "lastScheduleTime");
        json_array_append_new(cells, json_string(or_empty(str_at(obj, "spec", "schedule"))));
        json_array_append_new(cells, json_string(tz ? tz : "<none>"));
        json_array_append_new(cells, json_string(!json_is_boolean(suspend) ? "<unset>"
                                                 : json_is_true(suspend)   ? "True"
                                                                           : "False"));
        json_array_append_new(
            cells, json_integer((json_int_t)json_array_size(json_object_get(status, "active"))));
        json_array_append_new(cells, last ? ts_age_cell(last) : json_string("<none>"));
        break;
    }
    case TS_PRINT_PDB: {
        const json_t *spec_ = json_object_get(obj, "spec");
        json_array_append_new(cells, int_or_string(json_object_get(spec_, "minAvailable"), "N/A"));
        json_array_append_new(cells,
                              int_or_string(json_object_get(spec_, "maxUnavailable"), "N/A"));
        json_array_append_new(cells, json_integer(int_at(obj, "status", "disruptionsAllowed", 0)));
        break;
    }
    case TS_PRINT_INGRESS: {
        const json_t *spec_ = json_object_get(obj, "spec");
        const char *cls = json_string_value(json_object_get(spec_, "ingressClassName"));
        json_array_append_new(cells, json_string(cls ? cls : "<none>"));
        json_array_append_new(cells, ingress_hosts(json_object_get(spec_, "rules")));
        kr_buf b = {0};
        lb_addresses(json_object_get(json_object_get(status, "loadBalancer"), "ingress"), &b);
        json_array_append_new(cells, json_string(b.len ? b.data : ""));
        kr_buf_free(&b);
        json_array_append_new(
            cells, json_string(json_array_size(json_object_get(spec_, "tls")) ? "80, 443" : "80"));
        break;
    }
    case TS_PRINT_NETWORKPOLICY: {
        kr_buf sel = {0};
        ts_selector_text(json_object_get(json_object_get(obj, "spec"), "podSelector"), &sel);
        json_array_append_new(cells, json_string(sel.len ? sel.data : "<none>"));
        kr_buf_free(&sel);
        break;
    }
    case TS_PRINT_ROLEBINDING: {
        char role[600];
        snprintf(role, sizeof(role), "%s/%s", or_empty(str_at(obj, "roleRef", "kind")),
                 or_empty(str_at(obj, "roleRef", "name")));
        json_array_append_new(cells, json_string(role));
        break;
    }
    case TS_PRINT_APISERVICE: {
        /* the aggregator's: "Local" or namespace/name; the Available
         * condition, with its reason when not True */
        const json_t *svc = json_object_get(json_object_get(obj, "spec"), "service");
        char text[600] = "Local";
        if (json_is_object(svc))
            snprintf(text, sizeof(text), "%s/%s",
                     or_empty(json_string_value(json_object_get(svc, "namespace"))),
                     or_empty(json_string_value(json_object_get(svc, "name"))));
        json_array_append_new(cells, json_string(text));
        snprintf(text, sizeof(text), "Unknown");
        size_t i;
        const json_t *c;
        json_array_foreach(json_object_get(status, "conditions"), i, c)
        {
            const char *type = json_string_value(json_object_get(c, "type"));
            if (!type || strcmp(type, "Available") != 0)
                continue;
            const char *st = or_empty(json_string_value(json_object_get(c, "status")));
            const char *reason = json_string_value(json_object_get(c, "reason"));
            if (strcmp(st, "True") != 0 && reason && *reason)
                snprintf(text, sizeof(text), "%s (%s)", st, reason);
            else
                snprintf(text, sizeof(text), "%s", st);
            break;
        }
        json_array_append_new(cells, json_string(text));
        break;
    }
    case TS_PRINT_PRIORITYCLASS:
        json_array_append_new(cells,
                              json_integer(json_integer_value(json_object_get(obj, "value"))));
        json_array_append_new(cells,
                              json_boolean(json_is_true(json_object_get(obj, "globalDefault"))));
        break;
    case TS_PRINT_PV: {
        const json_t *spec_ = json_object_get(obj, "spec");
        const char *phase = json_string_value(json_object_get(status, "phase"));
        const json_t *claim = json_object_get(spec_, "claimRef");
        char claim_text[600] = "";
        if (claim)
            snprintf(claim_text, sizeof(claim_text), "%s/%s",
                     or_empty(str_at(spec_, "claimRef", "namespace")),
                     or_empty(str_at(spec_, "claimRef", "name")));
        const char *policy =
            json_string_value(json_object_get(spec_, "persistentVolumeReclaimPolicy"));
        const char *reason = json_string_value(json_object_get(status, "reason"));
        json_array_append_new(cells, json_string(or_empty(str_at(spec_, "capacity", "storage"))));
        json_array_append_new(cells, access_modes(json_object_get(spec_, "accessModes")));
        json_array_append_new(cells, json_string(policy ? policy : ""));
        json_array_append_new(cells, json_string(str_at(obj, "metadata", "deletionTimestamp")
                                                     ? "Terminating"
                                                 : phase ? phase
                                                         : ""));
        json_array_append_new(cells, json_string(claim_text));
        json_array_append_new(cells, storage_class(obj));
        json_array_append_new(cells, str_or_unset(json_string_value(
                                         json_object_get(spec_, "volumeAttributesClassName"))));
        json_array_append_new(cells, json_string(reason ? reason : ""));
        break;
    }
    case TS_PRINT_PVC: {
        const json_t *spec_ = json_object_get(obj, "spec");
        const char *phase = json_string_value(json_object_get(status, "phase"));
        const char *volume = json_string_value(json_object_get(spec_, "volumeName"));
        bool bound = volume && *volume;
        json_array_append_new(cells, json_string(str_at(obj, "metadata", "deletionTimestamp")
                                                     ? "Terminating"
                                                 : phase ? phase
                                                         : ""));
        json_array_append_new(cells, json_string(volume ? volume : ""));
        json_array_append_new(
            cells, json_string(bound ? or_empty(str_at(status, "capacity", "storage")) : ""));
        json_array_append_new(cells, bound ? access_modes(json_object_get(status, "accessModes"))
                                           : json_string(""));
        json_array_append_new(cells, storage_class(obj));
        json_array_append_new(cells, str_or_unset(json_string_value(
                                         json_object_get(spec_, "volumeAttributesClassName"))));
        break;
    }
    case TS_PRINT_PODTEMPLATE: { /* no Age column */
        const json_t *tmpl = json_object_get(obj, "template");
        const json_t *containers = json_object_get(json_object_get(tmpl, "spec"), "containers");
        json_array_append_new(cells, joined(containers, "name"));
        json_array_append_new(cells, joined(containers, "image"));
        json_array_append_new(
            cells, format_labels(json_object_get(json_object_get(tmpl, "metadata"), "labels")));
        return cells;
    }
    case TS_PRINT_CONTROLLERREVISION:
        json_array_append_new(cells, controller_of(obj));
        json_array_append_new(cells,
                              json_integer(json_integer_value(json_object_get(obj, "revision"))));
        break;
    case TS_PRINT_HPA: {
        const json_t *spec_ = json_object_get(obj, "spec");
        const json_t *min = json_object_get(spec_, "minReplicas");
        char ref[600], min_text[32] = "<unset>";
        snprintf(ref, sizeof(ref), "%s/%s", or_empty(str_at(spec_, "scaleTargetRef", "kind")),
                 or_empty(str_at(spec_, "scaleTargetRef", "name")));
        if (json_is_integer(min))
            snprintf(min_text, sizeof(min_text), "%lld", (long long)json_integer_value(min));
        json_array_append_new(cells, json_string(ref));
        json_array_append_new(cells, hpa_targets(spec_, status));
        json_array_append_new(cells, json_string(min_text));
        json_array_append_new(cells, json_integer(int_at(obj, "spec", "maxReplicas", 0)));
        json_array_append_new(cells, json_integer(int_at(obj, "status", "currentReplicas", 0)));
        break;
    }
    case TS_PRINT_ENDPOINTSLICE:
        json_array_append_new(
            cells, json_string(or_empty(json_string_value(json_object_get(obj, "addressType")))));
        endpointslice_cells(obj, cells);
        break;
    case TS_PRINT_INGRESSCLASS:
        json_array_append_new(cells, json_string(or_empty(str_at(obj, "spec", "controller"))));
        json_array_append_new(cells, ingressclass_parameters(json_object_get(obj, "spec")));
        break;
    case TS_PRINT_STORAGECLASS: {
        const char *reclaim = json_string_value(json_object_get(obj, "reclaimPolicy"));
        const char *binding = json_string_value(json_object_get(obj, "volumeBindingMode"));
        json_array_set_new(cells, 0, storageclass_name(obj));
        json_array_append_new(
            cells, json_string(or_empty(json_string_value(json_object_get(obj, "provisioner")))));
        json_array_append_new(cells, json_string(reclaim ? reclaim : "Delete"));
        json_array_append_new(cells, json_string(binding ? binding : "Immediate"));
        json_array_append_new(
            cells, json_boolean(json_is_true(json_object_get(obj, "allowVolumeExpansion"))));
        break;
    }
    case TS_PRINT_RUNTIMECLASS:
        json_array_append_new(
            cells, json_string(or_empty(json_string_value(json_object_get(obj, "handler")))));
        break;
    case TS_PRINT_WEBHOOKS:
        json_array_append_new(
            cells, json_integer((json_int_t)json_array_size(json_object_get(obj, "webhooks"))));
        break;
    case TS_PRINT_REPLICATIONCONTROLLER:
        json_array_append_new(cells, json_integer(int_at(obj, "spec", "replicas", 0)));
        json_array_append_new(cells, json_integer(int_at(obj, "status", "replicas", 0)));
        json_array_append_new(cells, json_integer(int_at(obj, "status", "readyReplicas", 0)));
        break;
    case TS_PRINT_CSR:
        csr_cells(obj, cells);
        return cells;
    case TS_PRINT_CSISTORAGECAPACITY: {
        const json_t *cap = json_object_get(obj, "capacity");
        json_array_append_new(
            cells,
            json_string(or_empty(json_string_value(json_object_get(obj, "storageClassName")))));
        json_array_append_new(cells, json_is_string(cap) ? json_incref((json_t *)cap)
                                                         : json_string("<unset>"));
        return cells;
    }
    case TS_PRINT_VOLUMEATTACHMENT: {
        const json_t *spec = json_object_get(obj, "spec");
        json_array_append_new(cells, json_string(or_empty(str_at(obj, "spec", "attacher"))));
        json_array_append_new(
            cells, json_string(or_empty(json_string_value(
                       json_object_get(json_object_get(spec, "source"), "persistentVolumeName")))));
        json_array_append_new(cells, json_string(or_empty(str_at(obj, "spec", "nodeName"))));
        json_array_append_new(cells,
                              json_boolean(json_is_true(json_object_get(status, "attached"))));
        break;
    }
    case TS_PRINT_CSINODE:
        json_array_append_new(cells, json_integer((json_int_t)json_array_size(json_object_get(
                                         json_object_get(obj, "spec"), "drivers"))));
        break;
    case TS_PRINT_CSIDRIVER:
        csidriver_cells(json_object_get(obj, "spec"), cells);
        break;
    case TS_PRINT_FLOWSCHEMA: {
        const json_t *spec = json_object_get(obj, "spec");
        const char *method = json_string_value(
            json_object_get(json_object_get(spec, "distinguisherMethod"), "type"));
        json_array_append_new(cells,
                              json_string(or_empty(json_string_value(json_object_get(
                                  json_object_get(spec, "priorityLevelConfiguration"), "name")))));
        json_array_append_new(cells, json_integer(int_at(obj, "spec", "matchingPrecedence", 0)));
        json_array_append_new(cells, json_string(method ? method : "<none>"));
        break;
    }
    case TS_PRINT_PRIORITYLEVEL:
        priority_level_cells(json_object_get(obj, "spec"), cells);
        break;
    case TS_PRINT_ADMISSIONPOLICY: {
        const json_t *spec = json_object_get(obj, "spec");
        const json_t *kind = json_object_get(spec, "paramKind");
        json_array_append_new(
            cells, json_integer((json_int_t)json_array_size(json_object_get(spec, "validations"))));
        if (json_is_object(kind)) {
            char *text = kr_asprintf("%s/%s", or_empty(str_at(spec, "paramKind", "apiVersion")),
                                     or_empty(str_at(spec, "paramKind", "kind")));
            json_array_append_new(cells, json_string(text ? text : ""));
            kr_free(text);
        } else {
            json_array_append_new(cells, json_string("<unset>"));
        }
        break;
    }
    case TS_PRINT_POLICYBINDING:
        json_array_append_new(cells, json_string(or_empty(str_at(obj, "spec", "policyName"))));
        json_array_append_new(
            cells, param_ref_text(json_object_get(json_object_get(obj, "spec"), "paramRef")));
        break;
    case TS_PRINT_SCALE:
        json_array_append_new(cells, json_integer(json_integer_value(json_object_get(
                                         json_object_get(obj, "spec"), "replicas"))));
        json_array_append_new(
            cells, json_integer(json_integer_value(json_object_get(status, "replicas"))));
        break;
    case TS_PRINT_DEFAULT: {
        /* the creation time as RFC 3339, Go's zero time without one */
        const char *at = str_at(obj, "metadata", "creationTimestamp");
        json_array_append_new(cells, json_string(at ? at : "0001-01-01T00:00:00Z"));
        return cells;
    }
    default:
        break;
    }
    json_array_append_new(cells, ts_age_cell(str_at(obj, "metadata", "creationTimestamp")));
    const json_t *spec = json_object_get(obj, "spec");
    switch (p) {
    case TS_PRINT_DEPLOYMENT:
    case TS_PRINT_JOB:
    case TS_PRINT_REPLICASET:
    case TS_PRINT_STATEFULSET:
    case TS_PRINT_DAEMONSET: {
        const json_t *containers = json_object_get(
            json_object_get(json_object_get(spec, "template"), "spec"), "containers");
        json_array_append_new(cells, joined(containers, "name"));
        json_array_append_new(cells, joined(containers, "image"));
        if (p == TS_PRINT_STATEFULSET)
            break;
        kr_buf sel = {0};
        ts_selector_text(json_object_get(spec, "selector"), &sel);
        json_array_append_new(cells, json_string(sel.data && *sel.data ? sel.data : "<none>"));
        kr_buf_free(&sel);
        break;
    }
    case TS_PRINT_POD:
        pod_wide_cells(obj, cells);
        break;
    case TS_PRINT_SERVICE:
        json_array_append_new(cells, format_labels(json_object_get(spec, "selector")));
        break;
    case TS_PRINT_NODE:
        node_info_cells(obj, cells);
        break;
    case TS_PRINT_CRONJOB: {
        const json_t *job = json_object_get(json_object_get(spec, "jobTemplate"), "spec");
        const json_t *containers = json_object_get(
            json_object_get(json_object_get(job, "template"), "spec"), "containers");
        json_array_append_new(cells, joined(containers, "name"));
        json_array_append_new(cells, joined(containers, "image"));
        kr_buf sel = {0};
        ts_selector_text(json_object_get(job, "selector"), &sel);
        json_array_append_new(cells, json_string(sel.len ? sel.data : "<none>"));
        kr_buf_free(&sel);
        break;
    }
    case TS_PRINT_ROLEBINDING: {
        const json_t *subjects = json_object_get(obj, "subjects");
        json_array_append_new(cells, subjects_of(subjects, "User"));
        json_array_append_new(cells, subjects_of(subjects, "Group"));
        json_array_append_new(cells, subjects_of(subjects, "ServiceAccount"));
        break;
    }
    case TS_PRINT_PRIORITYCLASS:
        json_array_append_new(
            cells,
            json_string(or_empty(json_string_value(json_object_get(obj, "preemptionPolicy")))));
        break;
    case TS_PRINT_RESOURCEQUOTA:
        quota_cells(obj, cells);
        break;
    case TS_PRINT_PV:
    case TS_PRINT_PVC: {
        const char *mode = json_string_value(json_object_get(spec, "volumeMode"));
        json_array_append_new(cells, str_or_unset(mode));
        break;
    }
    case TS_PRINT_REPLICATIONCONTROLLER: {
        const json_t *containers = json_object_get(
            json_object_get(json_object_get(spec, "template"), "spec"), "containers");
        json_array_append_new(cells, joined(containers, "name"));
        json_array_append_new(cells, joined(containers, "image"));
        json_array_append_new(cells, format_labels(json_object_get(spec, "selector")));
        break;
    }
    case TS_PRINT_FLOWSCHEMA: {
        /* the Dangling condition's status, "?" before the controller set one */
        const char *dangling = condition_status(status, "Dangling");
        json_array_append_new(cells, json_string(dangling ? dangling : "?"));
        break;
    }
    default:
        break;
    }
    return cells;
}

/* The row conditions kube-apiserver's printer sets: a Succeeded or Failed
 * pod's row is Completed. NULL for none. */
json_t *ts_printer_row_conditions(ts_printer p, const json_t *obj)
{
    const char *phase = str_at(obj, "status", "phase");
    if (p != TS_PRINT_POD || !phase ||
        (strcmp(phase, "Succeeded") != 0 && strcmp(phase, "Failed") != 0))
        return NULL;
    bool ok = strcmp(phase, "Succeeded") == 0;
    return json_pack("[{s:s, s:s, s:s, s:s}]", "type", "Completed", "status", "True", "reason",
                     phase, "message",
                     ok ? "The pod has completed successfully." : "The pod failed.");
}
